# The public entrance, built from production inputs (hostname, certificate, scheme) rather than a copy
# of modules/kubernetes-app's ingress object: the AWS Load Balancer Controller's annotations are this
# environment's business, the Ingress schema is the module's.
#
# - target-type ip: the chart's Service is ClusterIP, which instance targets (the controller's
#   default, via NodePorts) cannot reach; ip targets send traffic to the pods directly.
# - TLS ends at the load balancer with the ACM certificate; HTTP is answered with a redirect, so the
#   https URLs in curl_commands are the ones that work.
# - The health check is the service's own liveness endpoint.
locals {
  ingress = {
    enabled    = var.hostname != null
    class_name = "alb"
    host       = var.hostname
    path       = "/"
    annotations = var.hostname == null ? {} : {
      "alb.ingress.kubernetes.io/scheme"           = var.load_balancer_scheme
      "alb.ingress.kubernetes.io/target-type"      = "ip"
      "alb.ingress.kubernetes.io/certificate-arn"  = var.certificate_arn
      "alb.ingress.kubernetes.io/listen-ports"     = jsonencode([{ HTTP = 80 }, { HTTPS = 443 }])
      "alb.ingress.kubernetes.io/ssl-redirect"     = "443"
      "alb.ingress.kubernetes.io/ssl-policy"       = "ELBSecurityPolicy-TLS13-1-2-2021-06"
      "alb.ingress.kubernetes.io/healthcheck-path" = "/api/health"
    }
  }

  # The API endpoint: private unless source ranges are listed; the whole internet only as the reviewed
  # exception (CI runners without fixed egress addresses), never by listing 0.0.0.0/0 by accident.
  endpoint_public_access_cidrs = var.endpoint_public_access_from_anywhere ? ["0.0.0.0/0"] : var.endpoint_public_access_cidrs
}

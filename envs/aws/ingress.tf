# The public entrance, built from production inputs (hostname, certificate, scheme) rather than a copy
# of modules/kubernetes-app's ingress object. The AWS Load Balancer Controller's annotations (ip targets,
# health check on /api/ready, listeners 80 + 443 with the redirect) are the module's business: it sets
# them once for class_name "alb", so this environment only chooses what is specific to it. TLS ends at the
# load balancer with the ACM certificate, so the https URLs the module prints are the ones that work.
locals {
  ingress = {
    enabled         = var.hostname != null
    class_name      = "alb"
    host            = var.hostname
    scheme          = var.load_balancer_scheme
    certificate_arn = var.certificate_arn
    # TLS 1.2+ with TLS 1.3 ciphers: the controller's default policy still accepts TLS 1.0/1.1.
    annotations = var.hostname == null ? {} : {
      "alb.ingress.kubernetes.io/ssl-policy" = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    }
  }

  # The API endpoint: private unless source ranges are listed; the whole internet only as the reviewed
  # exception (CI runners without fixed egress addresses), never by listing 0.0.0.0/0 by accident.
  endpoint_public_access_cidrs = var.endpoint_public_access_from_anywhere ? ["0.0.0.0/0"] : var.endpoint_public_access_cidrs
}

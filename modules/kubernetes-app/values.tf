# The chart's non-secret values, computed from the inputs with nothing but Terraform functions: no
# resources, data sources or providers in this file (tests apply it offline with variables.tf and
# secrets.tf, and render the chart with exactly its values_yaml). Never reference a secret input here:
# values land in plans, state and Helm's release history in clear.

locals {
  chart_dir = "${path.module}/chart"

  # Local chart edits do not change helm_release's inputs by themselves (terraform-provider-helm#515),
  # so a digest of every chart file goes into a pod annotation: any edit becomes a Helm upgrade.
  chart_sha256 = sha256(join("", [for file in sort(fileset(local.chart_dir, "**")) : filesha256("${local.chart_dir}/${file}")]))

  service_account_name = coalesce(var.service_account_name, var.release_name)

  # Environment variables extra_env may not set: the chart's schema keeps the one list of the names the chart
  # manages itself (tests check that it covers every variable the ConfigMap renders but the server settings).
  reserved_env_names = jsondecode(file("${local.chart_dir}/values.schema.json")).properties.config.properties.extraEnv.propertyNames.not.enum

  # Optional attributes are left out rather than sent as null: a null would delete the chart's default.
  http_route_parent_refs = [
    for ref in var.http_route.parent_refs : {
      for key, value in { name = ref.name, namespace = ref.namespace, sectionName = ref.section_name } : key => value if value != null
    }
  ]

  values = {
    fullnameOverride = var.release_name
    environment      = var.environment

    image = {
      repository = var.image_repository
      tag        = var.image_tag
      digest     = var.image_digest == null ? "" : var.image_digest
      pullPolicy = "IfNotPresent"
    }
    imagePullSecrets = [for name in var.image_pull_secrets : { name = name }]

    config = {
      logLevel      = var.log_level
      maxWordLength = var.max_word_length
      appVersion    = var.app_version == null ? var.image_tag : var.app_version
      extraEnv      = var.extra_env
    }

    # The service's settings, unchanged: it validates them (app/mirror_service/config.py).
    server = var.server

    s3 = {
      bucket      = var.s3_bucket
      region      = var.s3_region
      prefix      = var.s3_prefix
      endpointUrl = var.s3_endpoint_url == null ? "" : var.s3_endpoint_url
    }

    # Only the name of a Secret managed elsewhere; secret values go through secrets.tf (set_sensitive).
    secrets = {
      existingSecret = var.existing_secret_name == null ? "" : var.existing_secret_name
    }

    serviceAccount = {
      create  = var.create_service_account
      name    = local.service_account_name
      roleArn = var.service_account_role_arn == null ? "" : var.service_account_role_arn
    }

    replicaCount   = var.replicas
    podAnnotations = merge(var.pod_annotations, { "checksum/chart" = local.chart_sha256 })
    resources      = var.resources

    shutdown = {
      preStopAction  = "sleep"
      preStopSeconds = var.pre_stop_seconds
      marginSeconds  = 5
    }

    topologySpread = {
      enabled           = true
      whenUnsatisfiable = var.topology_spread_when_unsatisfiable
    }

    autoscaling = {
      enabled                        = var.autoscaling.enabled
      minReplicas                    = var.autoscaling.min_replicas
      maxReplicas                    = var.autoscaling.max_replicas
      targetCPUUtilizationPercentage = var.autoscaling.target_cpu_utilization_percentage
    }

    pdb = {
      enabled        = var.pdb.enabled
      maxUnavailable = var.pdb.min_available != null ? "" : coalesce(var.pdb.max_unavailable, "1")
      minAvailable   = var.pdb.min_available == null ? "" : var.pdb.min_available
    }

    networkPolicy = {
      enabled                  = var.network_policy.enabled
      allowExternal            = var.network_policy.allow_external
      ingressNamespaceSelector = var.network_policy.ingress_namespace_labels
      egress = {
        httpsCidrs       = var.network_policy.https_cidrs
        podIdentityAgent = var.network_policy.pod_identity_agent
        s3EndpointCidr   = var.network_policy.s3_endpoint_cidr
      }
    }

    ingress = {
      enabled     = var.ingress.enabled
      className   = var.ingress.class_name
      annotations = var.ingress.annotations
      hosts = var.ingress.host == null ? [] : [{
        host  = var.ingress.host
        paths = [{ path = var.ingress.path, pathType = "Prefix" }]
      }]
      tls = var.ingress.host == null || var.ingress.tls_secret_name == null ? [] : [{
        secretName = var.ingress.tls_secret_name
        hosts      = [var.ingress.host]
      }]
      alb = {
        scheme         = var.ingress.scheme
        certificateArn = var.ingress.certificate_arn == null ? "" : var.ingress.certificate_arn
      }
    }

    httpRoute = {
      enabled    = var.http_route.enabled
      parentRefs = local.http_route_parent_refs
      hostnames  = var.http_route.hostnames
      rules      = [{ matches = [{ path = { type = "PathPrefix", value = var.http_route.path } }] }]
    }
  }

  values_yaml = yamlencode(local.values)

  # How a caller reaches the release: through the Ingress when there is one (https only where TLS is
  # configured: an ACM certificate on the ALB, or a TLS Secret), otherwise through a port-forward.
  # The host's root: ingress.path only selects which requests reach the Service (no rewrite), and the
  # service's routes are /api/... either way.
  ingress_tls = var.ingress.certificate_arn != null || var.ingress.tls_secret_name != null
  url         = var.ingress.enabled ? "${local.ingress_tls ? "https" : "http"}://${var.ingress.host}" : null
  base_url    = coalesce(local.url, "http://127.0.0.1:8080")
  curl_commands = concat(
    var.ingress.enabled ? [] : ["kubectl -n ${var.namespace} port-forward svc/${var.release_name} 8080:80 &"],
    [
      "curl ${local.base_url}/api/health",
      "curl '${local.base_url}/api/mirror?word=fOoBar25'",
      "curl -X POST -H \"Authorization: Bearer $TF_VAR_upload_token\" ${local.base_url}/api/upload-random",
    ],
  )
}

# An ALB reuses its connections to a pod for up to its idle timeout (60 s unless the load-balancer-attributes
# annotation sets idle_timeout.timeout_seconds); gunicorn closing one first makes the ALB answer 502 (AWS:
# "configure the idle timeout of your application to be larger than the idle timeout configured for the load
# balancer"). A warning, not a refusal: the 502s are occasional, and the caller may tune either side.
locals {
  alb_attributes           = lookup(var.ingress.annotations, "alb.ingress.kubernetes.io/load-balancer-attributes", "")
  alb_idle_timeout_matches = regexall("idle_timeout\\.timeout_seconds=([0-9]+)", local.alb_attributes)
  alb_idle_timeout_seconds = length(local.alb_idle_timeout_matches) > 0 ? tonumber(local.alb_idle_timeout_matches[0][0]) : 60
  # Unset (or not a number, which the service refuses anyway): the service's default, below any ALB's.
  keepalive_seconds = try(tonumber(var.server["GUNICORN_KEEPALIVE"]), 0)
}

check "keepalive_outlasts_the_alb_idle_timeout" {
  assert {
    condition     = !(var.ingress.enabled && var.ingress.class_name == "alb") || local.keepalive_seconds > local.alb_idle_timeout_seconds
    error_message = "server.GUNICORN_KEEPALIVE (${local.keepalive_seconds == 0 ? "unset: the service's default, a few seconds" : "${local.keepalive_seconds} s"}) is not longer than the ALB's idle timeout (${local.alb_idle_timeout_seconds} s): the ALB may send a request on a connection gunicorn has just closed and answer 502. Set server = { GUNICORN_KEEPALIVE = \"${local.alb_idle_timeout_seconds + 5}\" }, or a shorter idle_timeout.timeout_seconds in the ingress annotation alb.ingress.kubernetes.io/load-balancer-attributes."
  }
}

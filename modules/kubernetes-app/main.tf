# The bundled chart as one Helm release. Non-secret values come from the provider-free ./modules/values
# (tests apply it offline and render the chart with its output); the three secrets go through
# set_sensitive only. No provider block: the caller configures `helm` for its cluster.

locals {
  chart_dir = "${path.module}/chart"

  # Why set_sensitive and not set_wo: with hashicorp/helm 3.1.1, write-only values are dropped from the
  # release on any update that does not bump set_wo_revision (terraform-provider-helm#1753, open), so an
  # image bump would silently remove UPLOAD_TOKEN. set_sensitive keeps the values out of plan output;
  # they are still in state (encrypted S3 backend) and in Helm's release Secret. To keep them out of
  # Terraform entirely, create the Secret elsewhere and pass existing_secret_name.
  # Every entry is always present ("" = unset, which the chart ignores), so the list's shape never
  # depends on a secret value; type "string" stops Helm from reading a token like "12345" as a number.
  # (The variables' alphabet keeps `--set` syntax out of the values: no ',', backslash or braces.)
  secret_values = [
    { name = "secrets.uploadToken", value = var.upload_token == null ? "" : var.upload_token, type = "string" },
    { name = "secrets.awsAccessKeyId", value = var.s3_access_key_id == null ? "" : var.s3_access_key_id, type = "string" },
    { name = "secrets.awsSecretAccessKey", value = var.s3_secret_access_key == null ? "" : var.s3_secret_access_key, type = "string" },
  ]
}

module "values" {
  source = "./modules/values"

  chart_dir                          = local.chart_dir
  release_name                       = var.release_name
  environment                        = var.environment
  image_repository                   = var.image_repository
  image_tag                          = var.image_tag
  image_digest                       = var.image_digest
  image_pull_secrets                 = var.image_pull_secrets
  app_version                        = var.app_version
  replicas                           = var.replicas
  autoscaling                        = var.autoscaling
  s3_bucket                          = var.s3_bucket
  s3_region                          = var.s3_region
  s3_prefix                          = var.s3_prefix
  s3_endpoint_url                    = var.s3_endpoint_url
  create_service_account             = var.create_service_account
  service_account_name               = var.service_account_name
  service_account_role_arn           = var.service_account_role_arn
  existing_secret_name               = var.existing_secret_name
  resources                          = var.resources
  ingress                            = var.ingress
  http_route                         = var.http_route
  network_policy                     = var.network_policy
  pdb                                = var.pdb
  topology_spread_when_unsatisfiable = var.topology_spread_when_unsatisfiable
  extra_env                          = var.extra_env
  log_level                          = var.log_level
  max_word_length                    = var.max_word_length
  gunicorn_workers                   = var.gunicorn_workers
  gunicorn_threads                   = var.gunicorn_threads
  gunicorn_timeout                   = var.gunicorn_timeout
  gunicorn_graceful_timeout          = var.gunicorn_graceful_timeout
  pre_stop_seconds                   = var.pre_stop_seconds
  pod_annotations                    = var.pod_annotations
}

resource "helm_release" "this" {
  name             = var.release_name
  namespace        = var.namespace
  create_namespace = var.create_namespace
  chart            = local.chart_dir

  values        = [module.values.values_yaml]
  set_sensitive = local.secret_values

  # atomic rolls a failed install/upgrade back (and implies wait); wait makes apply finish only when
  # the new pods passed their readiness probes, so a green apply means a serving release.
  atomic          = var.atomic
  wait            = var.wait
  timeout         = var.timeout_seconds
  cleanup_on_fail = true
  max_history     = var.max_history
  # Lint at plan time: values.schema.json and the chart's own checks fail the plan, not the apply.
  lint = true
}

# The bundled chart as one Helm release: non-secret values from values.tf, secrets from secrets.tf
# through set_sensitive only. This file and outputs.tf are the only ones that need the helm provider;
# there is no provider block: the caller configures `helm` (3.x) for its cluster.

resource "helm_release" "this" {
  name             = var.release_name
  namespace        = var.namespace
  create_namespace = var.create_namespace
  chart            = local.chart_dir

  values        = [local.values_yaml]
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

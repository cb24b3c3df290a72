# The bundled chart as one Helm release: non-secret values from values.tf, secrets from secrets.tf
# through set_sensitive only. This file and outputs.tf are the only ones that need providers; there is no
# provider block: the caller configures `helm` (3.x) and `kubernetes` (2.x) for its cluster.

# The namespace, when this module creates it, enforces Pod Security "restricted" (the chart's pods meet
# it; anything else a person starts there is refused). Helm's own create_namespace cannot label what it
# creates, so the namespace is a Terraform resource and Helm never creates one.
resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name = var.namespace
    labels = {
      "pod-security.kubernetes.io/enforce" = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
      "pod-security.kubernetes.io/warn"    = "restricted"
    }
  }
}

resource "helm_release" "this" {
  name = var.release_name
  # Through the resource when it exists, so the namespace is created before and deleted after the release.
  namespace        = var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : var.namespace
  create_namespace = false
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

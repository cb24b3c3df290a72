# Nothing secret: none of these derive from secrets.tf. The names are known before the release exists;
# depends_on makes them available only once it does.

output "release_name" {
  description = "Name of the Helm release."
  value       = helm_release.this.name
}

output "namespace" {
  description = "Namespace of the release."
  value       = helm_release.this.namespace
}

output "chart_version" {
  description = "Version of the deployed chart."
  value       = helm_release.this.metadata.version
}

output "app_version" {
  description = "appVersion of the deployed chart (the image tag is in image_tag)."
  value       = helm_release.this.metadata.app_version
}

output "revision" {
  description = "Helm revision of the release."
  value       = helm_release.this.metadata.revision
}

output "status" {
  description = "Status of the release (`deployed` after a successful apply)."
  value       = helm_release.this.status
}

output "deployment_name" {
  description = "Name of the Deployment (`kubectl rollout status deployment/<name>`)."
  value       = var.release_name
  depends_on  = [helm_release.this]
}

output "service_name" {
  description = "Name of the ClusterIP Service in front of the pods."
  value       = var.release_name
  depends_on  = [helm_release.this]
}

output "service_port" {
  description = "Port of the Service (80 → container port 4545)."
  value       = 80
  depends_on  = [helm_release.this]
}

output "service_account_name" {
  description = "ServiceAccount of the pods: the one an EKS Pod Identity association must name."
  value       = local.service_account_name
  depends_on  = [helm_release.this]
}

output "chart_sha256" {
  description = "Digest of the chart files deployed (the checksum/chart pod annotation)."
  value       = local.chart_sha256
  depends_on  = [helm_release.this]
}

output "url" {
  description = "Base URL of the service through the Ingress, `<scheme>://<host>` (https only when ingress.certificate_arn or ingress.tls_secret_name is set; the routes are under /api/); null without an Ingress."
  value       = local.url
  depends_on  = [helm_release.this]
}

output "curl_commands" {
  description = "Calls to paste: through the Ingress when enabled, otherwise after the port-forward they start with. The token stays in your shell ($TF_VAR_upload_token)."
  value       = local.curl_commands
  depends_on  = [helm_release.this]
}

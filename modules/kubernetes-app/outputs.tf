# Nothing secret: none of these derive from upload_token or the static AWS keys.

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
  value       = module.values.fullname
  depends_on  = [helm_release.this]
}

output "service_name" {
  description = "Name of the ClusterIP Service in front of the pods."
  value       = module.values.fullname
  depends_on  = [helm_release.this]
}

output "service_port" {
  description = "Port of the Service (80 → container port 4545)."
  value       = module.values.service_port
  depends_on  = [helm_release.this]
}

output "service_account_name" {
  description = "ServiceAccount of the pods: the one an EKS Pod Identity association must name."
  value       = module.values.service_account_name
  depends_on  = [helm_release.this]
}

output "chart_sha256" {
  description = "Digest of the chart files deployed (the checksum/chart pod annotation)."
  value       = module.values.chart_sha256
  depends_on  = [helm_release.this]
}

output "values_yaml" {
  description = "The chart values as YAML: exactly what the parent module passes as helm_release `values`."
  value       = yamlencode(local.values)
}

output "chart_sha256" {
  description = "Digest of every file of the chart (the `checksum/chart` pod annotation)."
  value       = local.chart_sha256
}

output "fullname" {
  description = "Name of the Deployment, Service and ConfigMap the chart renders (fullnameOverride)."
  value       = var.release_name
}

output "service_account_name" {
  description = "ServiceAccount the pods run as (name a Pod Identity association after it)."
  value       = local.service_account_name
}

output "service_port" {
  description = "Port of the Service (docs/CONTRACTS.md: 80 → container port 4545)."
  value       = 80
}

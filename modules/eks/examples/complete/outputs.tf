output "cluster_name" {
  description = "Name of the cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "API server URL."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded CA of the API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "configure_kubectl" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "staging_bucket_name" {
  description = "The service's S3_BUCKET."
  value       = module.staging_bucket.bucket_name
}

output "service_role_arn" {
  description = "Role the mirror-service service account receives through Pod Identity."
  value       = module.staging_bucket.service_role_arn
}

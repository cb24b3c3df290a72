output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "API server endpoint of the cluster."
  value       = module.eks.cluster_endpoint
}

output "kubeconfig_command" {
  description = "Adds the cluster to your kubeconfig."
  value       = "aws eks update-kubeconfig --name ${module.eks.cluster_name} --region ${var.region}"
}

output "namespace" {
  description = "Namespace of the release."
  value       = module.app.namespace
}

output "release_name" {
  description = "Helm release name."
  value       = module.app.release_name
}

output "deployment_name" {
  description = "Deployment to watch: `kubectl rollout status deployment/<name> -n <namespace>`."
  value       = module.app.deployment_name
}

output "service_name" {
  description = "Service in front of the pods (port 80)."
  value       = module.app.service_name
}

output "bucket_name" {
  description = "Staging bucket the service writes to."
  value       = module.staging_bucket.bucket_name
}

output "object_prefix" {
  description = "Key prefix of uploaded objects."
  value       = module.staging_bucket.object_prefix
}

output "service_role_arn" {
  description = "IAM role the service's pods receive through EKS Pod Identity."
  value       = module.staging_bucket.service_role_arn
}

output "url" {
  description = "Base URL of the service through the load balancer (https with the ACM certificate); null without a hostname."
  value       = module.app.url
}

output "curl_commands" {
  description = "Calls to paste: through the load balancer when a hostname is set, otherwise after the port-forward they start with. The token stays in your shell."
  value       = module.app.curl_commands
}

output "account_id" {
  description = "AWS account the environment lives in."
  value       = data.aws_caller_identity.current.account_id
}

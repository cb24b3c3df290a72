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

output "curl_commands" {
  description = "Calls to paste: through the Ingress when enabled, otherwise after the printed port-forward. The token stays in your shell."
  value = var.hostname != null ? [
    "curl https://${var.hostname}/api/health",
    "curl 'https://${var.hostname}/api/mirror?word=fOoBar25'",
    "curl -X POST -H \"Authorization: Bearer $TF_VAR_upload_token\" https://${var.hostname}/api/upload-random",
    ] : [
    "kubectl -n ${module.app.namespace} port-forward svc/${module.app.service_name} 8080:80 &",
    "curl http://127.0.0.1:8080/api/health",
    "curl 'http://127.0.0.1:8080/api/mirror?word=fOoBar25'",
    "curl -X POST -H \"Authorization: Bearer $TF_VAR_upload_token\" http://127.0.0.1:8080/api/upload-random",
  ]
}

output "account_id" {
  description = "AWS account the environment lives in."
  value       = data.aws_caller_identity.current.account_id
}

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

output "port_forward_command" {
  description = "Makes the service reachable on http://127.0.0.1:8080."
  value       = "kubectl --context ${var.kube_context} -n ${module.app.namespace} port-forward svc/${module.app.service_name} 8080:80"
}

output "curl_commands" {
  description = "Calls to paste once port-forward runs; the token stays in your shell ($TF_VAR_upload_token), never in state outputs."
  value = [
    "curl http://127.0.0.1:8080/api/health",
    "curl 'http://127.0.0.1:8080/api/mirror?word=fOoBar25'",
    "curl -X POST -H \"Authorization: Bearer $TF_VAR_upload_token\" http://127.0.0.1:8080/api/upload-random",
  ]
}

output "release_name" {
  description = "Name of the Helm release."
  value       = module.app.release_name
}

output "namespace" {
  description = "Namespace the release runs in."
  value       = module.app.namespace
}

output "service_name" {
  description = "Name of the service's Kubernetes Service (the port_forward target)."
  value       = module.app.service_name
}

output "port_forward" {
  description = "How to reach the service from this machine."
  value       = "kubectl --context ${var.kube_context} -n ${module.app.namespace} port-forward svc/${module.app.service_name} 8080:${module.app.service_port}"
}

# The helm provider ignores KUBECONFIG unless told; name the file and context explicitly.
provider "helm" {
  kubernetes = {
    config_path    = pathexpand(var.kube_config_path)
    config_context = var.kube_context
  }
}

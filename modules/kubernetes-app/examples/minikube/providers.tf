# The helm provider ignores KUBECONFIG unless told; name the file and context explicitly.
provider "helm" {
  kubernetes = {
    config_path    = pathexpand(var.kube_config_path)
    config_context = var.kube_context
  }
}

# The same cluster for the kubernetes provider: the release namespace and its Pod Security labels.
provider "kubernetes" {
  config_path    = pathexpand(var.kube_config_path)
  config_context = var.kube_context
}


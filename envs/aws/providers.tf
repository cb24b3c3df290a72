provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      environment = "aws"
      managed-by  = "terraform"
    })
  }
}

# The cluster this root creates, reached with short-lived tokens from `aws eks get-token` (AWS CLI):
# no kubeconfig file and no static credentials. The caller's identity is granted cluster admin
# through an EKS access entry (module.eks), which is what lets the helm provider in.
provider "helm" {
  kubernetes = {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}

# The same cluster and token for the kubernetes provider: the release namespace and its Pod Security labels.
provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
  }
}


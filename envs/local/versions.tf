terraform {
  required_version = ">= 1.11"

  # Roots pin the aws major the tests exercise (5.100); the modules accept 5.100 to 6.x.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.2"
    }
  }

  # Local state: Minikube is one engineer's machine, and so is this state. Point it elsewhere with
  # `terraform init -backend-config=path=...` if you keep several clusters.
  backend "local" {}
}

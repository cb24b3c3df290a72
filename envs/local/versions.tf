terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100" # roots pin the major the tests exercise (5.100); modules accept 5.100 to 6.x
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
  }

  # Local state: Minikube is one engineer's machine, and so is this state. Point it elsewhere with
  # `terraform init -backend-config=path=...` if you keep several clusters.
  backend "local" {}
}

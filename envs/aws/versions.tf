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

  # Partial configuration: bucket and region come from `-backend-config=backend.s3.tfbackend` (see
  # backend.s3.tfbackend.example) so the same code serves every account. Native S3 locking
  # (use_lockfile) needs no DynamoDB table; credentials never go in the backend file.
  backend "s3" {}
}

terraform {
  # 1.10 introduced S3-native state locking (use_lockfile), which is what this bucket serves.
  required_version = ">= 1.10"

  # Roots pin the aws major the tests exercise (5.100); the modules accept 5.100 to 6.x.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # No backend block on purpose: this root creates the bucket every other root keeps its state in, so
  # its own state starts local (terraform.tfstate here, git-ignored, committed nowhere). Once the
  # bucket exists it can move in with `terraform init -migrate-state` (see README.md).
}

terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100" # roots pin the major the tests exercise (5.100); modules accept 5.100 to 6.x
    }
  }
}

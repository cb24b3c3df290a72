terraform {
  required_version = ">= 1.10"

  # Roots pin the aws major the tests exercise (5.100); the modules accept 5.100 to 6.x.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Local state on purpose: the sandbox's bucket lives in an emulator that dies with `make sandbox`,
  # so the state is as disposable as the bucket. `make sandbox` keeps it under .sandbox/.
  backend "local" {}
}

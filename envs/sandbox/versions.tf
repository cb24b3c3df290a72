terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100" # roots pin the major the tests exercise (5.100); modules accept 5.100 to 6.x
    }
  }

  # Local state on purpose: the sandbox's bucket lives in an emulator that dies with `make sandbox`,
  # so the state is as disposable as the bucket. `make sandbox` keeps it under .sandbox/.
  backend "local" {}
}

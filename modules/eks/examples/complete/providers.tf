provider "aws" {
  region = var.region

  default_tags {
    tags = {
      example    = "eks/complete"
      managed-by = "terraform"
    }
  }
}

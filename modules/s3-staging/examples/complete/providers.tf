provider "aws" {
  region = var.region

  default_tags {
    tags = {
      example    = "s3-staging/complete"
      managed-by = "terraform"
    }
  }
}

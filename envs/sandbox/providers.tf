# Every call goes to the S3 emulator: no AWS account is needed and none is ever reached.
provider "aws" {
  region = var.region

  # The emulator accepts any key pair; these are not secrets and are never valid anywhere else.
  access_key = "sandbox"
  secret_key = "sandbox"

  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true

  endpoints {
    s3  = var.emulator_endpoint
    sts = var.emulator_endpoint
    iam = var.emulator_endpoint
  }

  default_tags {
    tags = {
      environment = "sandbox"
      managed-by  = "terraform"
    }
  }
}

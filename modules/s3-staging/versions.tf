terraform {
  # 1.9+ lets a validation block refer to other variables (force_destroy vs environment); 1.10 is the
  # floor of the S3 backend's native locking that the roots consuming this module use.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Written against 5.100 and kept free of what 6.x deprecates or removed (no data.aws_region.name,
      # no inline bucket sub-configuration, no global S3 endpoint), so both majors work.
      version = ">= 5.100, < 7.0"
    }
  }
}

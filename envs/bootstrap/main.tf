# The bucket every other root keeps its Terraform state in: modules/s3-staging's private, versioned,
# encrypted, TLS-only bucket, with current objects (the state) kept and superseded state versions
# eventually expired. Locking needs no DynamoDB table: Terraform >= 1.10 locks with a conditional write
# of <key>.tflock next to the state (use_lockfile).

data "aws_caller_identity" "current" {}

locals {
  bucket_name = coalesce(var.bucket_name, "tfstate-${data.aws_caller_identity.current.account_id}-${var.region}")
}

module "state_bucket" {
  source = "../../modules/s3-staging"

  bucket_name   = local.bucket_name
  kms_key_arn   = var.kms_key_arn
  force_destroy = var.force_destroy

  # State objects are current objects: they never expire. Superseded versions (the state history) do,
  # after noncurrent_version_expiration_days; orphaned delete markers of released locks are removed.
  object_expiration_days             = null
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days

  tags = var.tags
}

# Losing the bucket loses every environment's state. prevent_destroy cannot be set on a module's
# resource from outside, so this guard carries it: it is replaced whenever the bucket would be
# (triggers_replace) and destroyed with it (a destroy, also `-target=module.state_bucket`, takes the
# resources that depend on its target along), and Terraform refuses any plan that destroys it.
# Remove this block deliberately if you must destroy the bucket.
resource "terraform_data" "state_bucket_guard" {
  triggers_replace = [module.state_bucket.bucket_arn]

  lifecycle {
    prevent_destroy = true
  }
}

# The bucket's resources lived in this root before it called the module: these move them in the state
# instead of destroying and re-creating the bucket (which prevent_destroy refused anyway).
moved {
  from = aws_s3_bucket.state
  to   = module.state_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.state
  to   = module.state_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.state
  to   = module.state_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.state
  to   = module.state_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.state
  to   = module.state_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_policy.state
  to   = module.state_bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.state
  to   = module.state_bucket.aws_s3_bucket_lifecycle_configuration.this
}

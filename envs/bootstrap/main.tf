# The bucket every other root keeps its Terraform state in: versioned (state history), encrypted,
# private, TLS-only, with old state versions eventually expired. Locking needs no DynamoDB table:
# Terraform >= 1.10 locks with a conditional write of <key>.tflock next to the state (use_lockfile).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  bucket_name = coalesce(var.bucket_name, "tfstate-${data.aws_caller_identity.current.account_id}-${var.region}")
  bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket_name}"
  use_kms     = var.kms_key_arn != null
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access to state is audited with CloudTrail S3 data events; server access logs would need a second bucket outside Terraform's state.
  #checkov:skip=CKV_AWS_144:State is small and versioned; cross-region replication is an account-level disaster-recovery decision, not the bootstrap's.
  #checkov:skip=CKV2_AWS_62:Nothing consumes state-bucket events.
  #checkov:skip=CKV_AWS_145:Encryption is always on: SSE-S3 by default, SSE-KMS when kms_key_arn is given (aws_s3_bucket_server_side_encryption_configuration.state).
  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags

  lifecycle {
    # Losing this bucket loses every environment's state. Remove this line deliberately if you must.
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket = aws_s3_bucket.state.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }

  depends_on = [aws_s3_bucket_public_access_block.state]
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.use_kms ? true : null
  }
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json

  depends_on = [
    aws_s3_bucket_public_access_block.state,
    aws_s3_bucket_ownership_controls.state,
  ]
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  transition_default_minimum_object_size = "all_storage_classes_128K"

  rule {
    id     = "expire-superseded-state-versions"
    status = "Enabled"

    # Whole bucket: every state file and lock file.
    filter {}

    # Age only: newer_noncurrent_versions ("keep the last N") is not stored by the S3 emulator the
    # tests apply this root against, which would leave the provider waiting for a match forever.
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    # A released lock leaves a delete marker (the bucket is versioned); remove markers with nothing behind them.
    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

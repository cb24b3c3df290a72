# The service's staging bucket, private by construction: nothing here can make it public, readable
# without TLS, or unencrypted, whatever the caller passes. envs/bootstrap builds the Terraform state
# bucket with it too (current objects kept, old versions expired).

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # An S3 bucket ARN has no region or account; building it from the name keeps every policy known at
  # plan time, so callers can use service_policy_json in count/for_each and plans show real JSON.
  bucket_arn = "arn:${local.partition}:s3:::${var.bucket_name}"

  use_kms = var.kms_key_arn != null
  # SSE-KMS requires the key to live in the bucket's region, so the key ARN names the bucket's region
  # too (data.aws_region would need .name on 5.x and .region on 6.x).
  kms_region = local.use_kms ? split(":", var.kms_key_arn)[3] : null

  create_service_role = var.enable_pod_identity || var.irsa_oidc_provider_arn != null
  service_role_name   = coalesce(var.service_role_name, "${substr(var.bucket_name, 0, 56)}-service")
  # IRSA condition keys are "<issuer host/path>:sub|aud"; the provider ARN ends in exactly that.
  oidc_issuer = var.irsa_oidc_provider_arn == null ? null : element(split(":oidc-provider/", var.irsa_oidc_provider_arn), 1)
}

################################################################################
# Bucket
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a log bucket per staging bucket; object-level access is audited with CloudTrail S3 data events at account level.
  #checkov:skip=CKV_AWS_144:Cross-region replication is the account's disaster-recovery decision, not this module's: staged objects expire within days, and a state bucket (envs/bootstrap) keeps its history as versions.
  #checkov:skip=CKV2_AWS_62:Nothing consumes this bucket's events: the service reads back only what it wrote itself (an Idempotency-Key replay), and Terraform state needs none.
  #checkov:skip=CKV_AWS_145:Encryption is always on: SSE-S3 by default and SSE-KMS with a bucket key when kms_key_arn is given (see aws_s3_bucket_server_side_encryption_configuration).
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    # ACLs disabled: the bucket owner owns every object, whoever uploads it.
    object_ownership = "BucketOwnerEnforced"
  }

  # S3 serialises configuration changes per bucket; ordering them avoids OperationAborted conflicts.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    # A bucket key cuts KMS requests (and cost) by orders of magnitude; it has no meaning for SSE-S3.
    bucket_key_enabled = local.use_kms ? true : null
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

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
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

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

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  # A policy written before the public access block is in place can be judged "public" and refused
  # (terraform-aws-modules/s3-bucket#227); the ownership controls are serialised behind it too.
  depends_on = [
    aws_s3_bucket_public_access_block.this,
    aws_s3_bucket_ownership_controls.this,
  ]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:False positive: next to a dynamic rule block checkov does not see the static whole-bucket rule, which aborts incomplete multipart uploads (its read-back is asserted in tests/modules/s3_staging/test_complete_example.py and tests/envs/bootstrap/test_state_bucket.py).
  bucket = aws_s3_bucket.this.id

  # Stated explicitly (it is S3's default) so the value Terraform sends, the value S3 reports in the
  # x-amz-transition-default-minimum-object-size header and the state always agree.
  transition_default_minimum_object_size = "all_storage_classes_128K"

  # Staged objects expire; a bucket whose current objects must stay (a state bucket) sets
  # object_expiration_days = null and keeps only the whole-bucket rule below.
  dynamic "rule" {
    for_each = var.object_expiration_days == null ? [] : [var.object_expiration_days]

    content {
      id     = "expire-staged-objects"
      status = "Enabled"

      filter {
        prefix = var.object_prefix
      }

      expiration {
        days = rule.value
      }
    }
  }

  rule {
    id     = "expire-noncurrent-versions-and-incomplete-uploads"
    status = "Enabled"

    # An explicit empty filter applies the rule to the whole bucket (a rule without filter or prefix
    # draws a provider warning since 5.86 and is ambiguous).
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    # Once an object's last noncurrent version is gone only its delete marker is left (every expired
    # staged object, every released state lock leaves one); remove those markers too.
    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  # Noncurrent-version rules only make sense once versioning is on.
  depends_on = [aws_s3_bucket_versioning.this]
}

################################################################################
# What the service may do (and nothing more)
################################################################################

data "aws_iam_policy_document" "service" {
  statement {
    sid       = "PutStagedObjects"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/${var.object_prefix}*"]
  }

  # An upload retried with the same Idempotency-Key finds its object already written (the conditional
  # PutObject answers 412) and answers with what is stored, so the service reads back what it wrote,
  # under its own prefix only.
  statement {
    sid       = "ReplayStagedObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${var.object_prefix}*"]
  }

  # The readiness check calls HeadBucket, which S3 authorises as s3:ListBucket on the bucket. It is
  # deliberately not conditioned on s3:prefix: HeadBucket carries no prefix, so such a condition would
  # fail the readiness check, and an IfExists variant would not restrict unprefixed listings anyway.
  statement {
    sid       = "ReadinessHeadBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [var.kms_key_arn] : []

    content {
      sid = "EncryptStagedObjectsWithBucketKey"
      # Decrypt: reading back an object written under the key (an idempotent upload's replay).
      actions   = ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"]
      resources = [statement.value]

      # Only through S3 in the bucket's region: the service cannot use the key directly.
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.kms_region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

################################################################################
# Service role for the service's Kubernetes service account on EKS
################################################################################

data "aws_iam_policy_document" "service_trust" {
  count = local.create_service_role ? 1 : 0

  dynamic "statement" {
    for_each = var.enable_pod_identity ? [1] : []

    content {
      sid     = "EksPodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]

      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.irsa_oidc_provider_arn != null ? [var.irsa_oidc_provider_arn] : []

    content {
      sid     = "EksIrsa"
      actions = ["sts:AssumeRoleWithWebIdentity"]

      principals {
        type        = "Federated"
        identifiers = [statement.value]
      }

      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:sub"
        values   = ["system:serviceaccount:${var.service_account_namespace}:${var.service_account_name}"]
      }

      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "service" {
  count = local.create_service_role ? 1 : 0

  name                 = local.service_role_name
  description          = "Lets the service's Kubernetes service account stage objects in s3://${var.bucket_name}/${var.object_prefix}"
  assume_role_policy   = data.aws_iam_policy_document.service_trust[0].json
  permissions_boundary = var.service_role_permissions_boundary_arn
  # Credentials vended to pods are refreshed by the SDK; one hour keeps a leaked set short-lived.
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role_policy" "service" {
  count = local.create_service_role ? 1 : 0

  name   = "staging-bucket-access"
  role   = aws_iam_role.service[0].id
  policy = data.aws_iam_policy_document.service.json
}

# The staging bucket as a production-like environment uses it: encrypted with a customer managed key,
# and a service role that the service's Kubernetes service account assumes through EKS Pod Identity
# (and IRSA when an OIDC provider is given).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The key policy only delegates to IAM in this account: who may use the key is decided by IAM
# policies such as the module's service_policy_json.
data "aws_iam_policy_document" "staging_key" {
  #checkov:skip=CKV_AWS_109:In a key policy "*" is this key only; delegating to the account's IAM is AWS's default key policy.
  #checkov:skip=CKV_AWS_111:In a key policy "*" is this key only; delegating to the account's IAM is AWS's default key policy.
  #checkov:skip=CKV_AWS_356:In a key policy "*" is this key only; delegating to the account's IAM is AWS's default key policy.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "staging" {
  description             = "Default encryption of ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.staging_key.json
}

module "staging_bucket" {
  source = "../../"

  bucket_name   = var.bucket_name
  object_prefix = "uploads/"
  environment   = "staging"
  kms_key_arn   = aws_kms_key.staging.arn

  object_expiration_days             = 14
  noncurrent_version_expiration_days = 7

  enable_pod_identity       = true
  irsa_oidc_provider_arn    = var.irsa_oidc_provider_arn
  service_account_namespace = "mirror"
  service_account_name      = "mirror-service"

  tags = {
    service = "mirror-service"
  }
}

output "bucket_name" {
  description = "Name of the staging bucket (the service's S3_BUCKET). Known at plan time, so consumers can plan with it before the bucket exists."
  value       = aws_s3_bucket.this.bucket

  # Whoever uses the name (a deployment, a test) gets it only once the bucket is private and encrypted.
  depends_on = [
    aws_s3_bucket_public_access_block.this,
    aws_s3_bucket_ownership_controls.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_s3_bucket_policy.this,
    aws_s3_bucket_versioning.this,
  ]
}

output "bucket_arn" {
  description = "ARN of the staging bucket."
  value       = aws_s3_bucket.this.arn
}

output "bucket_region" {
  description = "Region of the staging bucket (the service's AWS_REGION)."
  value       = aws_s3_bucket.this.region
}

output "bucket_regional_domain_name" {
  description = "Regional domain name of the bucket (BUCKET.s3.REGION.amazonaws.com); use it rather than the legacy global endpoint."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "object_prefix" {
  description = "Key prefix the service may write under (the service's S3_PREFIX)."
  value       = var.object_prefix
}

output "service_policy_json" {
  description = "Least-privilege IAM policy for the service: s3:PutObject and s3:GetObject (idempotent replays) under object_prefix, s3:ListBucket on the bucket (HeadBucket readiness check) and, with kms_key_arn, kms:GenerateDataKey/kms:Encrypt/kms:Decrypt via S3. Known at plan time."
  value       = data.aws_iam_policy_document.service.json
}

output "service_role_arn" {
  description = "ARN of the service role (Pod Identity and/or IRSA trust, service policy attached); null unless enable_pod_identity or irsa_oidc_provider_arn is set."
  value       = try(aws_iam_role.service[0].arn, null)
}

output "service_role_name" {
  description = "Name of the service role; null unless enable_pod_identity or irsa_oidc_provider_arn is set."
  value       = try(aws_iam_role.service[0].name, null)
}

output "lifecycle_rule_ids" {
  description = "IDs of the lifecycle rules applied to the bucket."
  value       = [for rule in aws_s3_bucket_lifecycle_configuration.this.rule : rule.id]
}

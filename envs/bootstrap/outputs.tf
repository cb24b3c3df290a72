output "state_bucket_name" {
  description = "Name of the state bucket (`bucket` in every root's *.s3.tfbackend file)."
  value       = aws_s3_bucket.state.id

  depends_on = [
    aws_s3_bucket_public_access_block.state,
    aws_s3_bucket_server_side_encryption_configuration.state,
    aws_s3_bucket_policy.state,
    aws_s3_bucket_versioning.state,
  ]
}

output "state_bucket_arn" {
  description = "ARN of the state bucket, for the IAM policies of whoever runs Terraform."
  value       = aws_s3_bucket.state.arn
}

output "state_bucket_region" {
  description = "Region of the state bucket (`region` in the backend configuration)."
  value       = aws_s3_bucket.state.region
}

output "backend_config" {
  description = "Backend settings every root shares; add `key = \"<root>/terraform.tfstate\"` per root and write them to <root>/<env>.s3.tfbackend."
  value = merge(
    {
      bucket       = aws_s3_bucket.state.id
      region       = aws_s3_bucket.state.region
      encrypt      = true
      use_lockfile = true
    },
    local.use_kms ? { kms_key_id = var.kms_key_arn } : {},
  )
}

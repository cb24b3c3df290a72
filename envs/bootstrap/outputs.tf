output "state_bucket_name" {
  description = "Name of the state bucket (`bucket` in every root's *.s3.tfbackend file)."
  # Known only once the bucket is private, encrypted, TLS-only and versioned (the module's output).
  value = module.state_bucket.bucket_name
}

output "state_bucket_arn" {
  description = "ARN of the state bucket, for the IAM policies of whoever runs Terraform."
  value       = module.state_bucket.bucket_arn
}

output "state_bucket_region" {
  description = "Region of the state bucket (`region` in the backend configuration)."
  value       = module.state_bucket.bucket_region
}

output "backend_config" {
  description = "Backend settings every root shares; add `key = \"<root>/terraform.tfstate\"` per root and write them to <root>/<env>.s3.tfbackend."
  value = merge(
    {
      bucket       = module.state_bucket.bucket_name
      region       = module.state_bucket.bucket_region
      encrypt      = true
      use_lockfile = true
    },
    var.kms_key_arn != null ? { kms_key_id = var.kms_key_arn } : {},
  )
}

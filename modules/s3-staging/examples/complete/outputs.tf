output "bucket_name" {
  description = "Name of the staging bucket."
  value       = module.staging_bucket.bucket_name
}

output "bucket_arn" {
  description = "ARN of the staging bucket."
  value       = module.staging_bucket.bucket_arn
}

output "kms_key_arn" {
  description = "ARN of the key the bucket encrypts with."
  value       = aws_kms_key.staging.arn
}

output "service_role_arn" {
  description = "Role to bind to the service account (EKS pod identity association or IRSA annotation)."
  value       = module.staging_bucket.service_role_arn
}

output "service_policy_json" {
  description = "The least-privilege policy attached to the service role."
  value       = module.staging_bucket.service_policy_json
}

output "lifecycle_rule_ids" {
  description = "Lifecycle rules applied to the bucket."
  value       = module.staging_bucket.lifecycle_rule_ids
}

output "bucket_name" {
  description = "Name of the staging bucket in the emulator."
  value       = module.staging_bucket.bucket_name
}

output "bucket_arn" {
  description = "ARN of the staging bucket in the emulator."
  value       = module.staging_bucket.bucket_arn
}

output "service_environment" {
  description = "Environment variables (non-secret) the service needs to use this bucket; the upload token is never part of Terraform state."
  value = {
    S3_BUCKET       = module.staging_bucket.bucket_name
    S3_ENDPOINT_URL = var.emulator_endpoint
    S3_PREFIX       = var.object_prefix
    AWS_REGION      = var.region
  }
}

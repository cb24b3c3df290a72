output "bucket_name" {
  description = "Name of the staging bucket in the emulator."
  value       = module.staging_bucket.bucket_name
}

output "bucket_arn" {
  description = "ARN of the staging bucket in the emulator."
  value       = module.staging_bucket.bucket_arn
}

# Built from input variables only (the module names the bucket exactly `bucket_name`): `make sandbox` reads
# this map from this file to start the service the moment the emulator is up, before Terraform has planned,
# and restarts it with the planned values should they ever differ (harness/sandbox.py).
output "service_environment" {
  description = "Environment variables (non-secret) the service needs to use this bucket; the upload token is never part of Terraform state."
  value = {
    S3_BUCKET       = var.bucket_name
    S3_ENDPOINT_URL = var.emulator_endpoint
    S3_PREFIX       = var.object_prefix
    AWS_REGION      = var.region
  }
}

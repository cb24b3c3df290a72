# A consumer of modules/s3-staging exactly as teams consume it: by git URL pinned to a tag. The test
# rewrites __MODULE_SOURCE__ to a git::file:// URL of a throwaway repository with ?ref=<tag>.

variable "bucket_name" {
  description = "Unique bucket name for the test."
  type        = string
}

module "staging_bucket" {
  source = "__MODULE_SOURCE__"

  bucket_name   = var.bucket_name
  environment   = "dev"
  force_destroy = true
}

output "bucket_name" {
  description = "Name of the bucket created through the git source."
  value       = module.staging_bucket.bucket_name
}

output "service_policy_json" {
  description = "The module's service policy."
  value       = module.staging_bucket.service_policy_json
}

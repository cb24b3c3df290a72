variable "region" {
  description = "Region of the state bucket. Roots name it in their backend configuration (region = ...)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1 or eu-west-1."
  }
}

variable "bucket_name" {
  description = "Name of the state bucket. Null derives tfstate-ACCOUNT_ID-REGION, unique per account and region."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", coalesce(var.bucket_name, "-")))
    error_message = "bucket_name must be 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit (no dots: they break TLS for virtual-hosted requests)."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key to encrypt state with (SSE-KMS with a bucket key). Null uses SSE-S3 (AES256). Whoever runs Terraform then also needs kms:Encrypt/Decrypt/GenerateDataKey on the key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.kms_key_arn, "-")))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a superseded state version is kept before it is deleted. State history is how you recover from a bad apply or a corrupted state, so keep it long enough to notice."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  description = "Let destroy delete the bucket with every state file and version in it. Only for throwaway buckets (tests on an emulator); real state buckets are additionally protected by prevent_destroy."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags for the state bucket."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "region" {
  description = "AWS region to create the example in."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "bucket_name" {
  description = "Globally unique name for the example's staging bucket, such as mirror-staging-<your initials>-example."
  type        = string
}

variable "irsa_oidc_provider_arn" {
  description = "ARN of an EKS cluster's IAM OIDC provider to trust for IRSA as well as Pod Identity; null for Pod Identity only."
  type        = string
  default     = null
}

################################################################################
# Bucket
################################################################################

variable "bucket_name" {
  description = "Name of the staging bucket. Globally unique; 3-63 characters of lower-case letters, digits, hyphens and dots, starting and ending with a letter or digit."
  type        = string

  validation {
    condition     = length(var.bucket_name) >= 3 && length(var.bucket_name) <= 63
    error_message = "bucket_name must be 3 to 63 characters long; shorten or lengthen \"${var.bucket_name}\"."
  }

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name may only contain lower-case letters, digits, hyphens and dots, and must start and end with a letter or digit (no upper case, underscores or spaces)."
  }

  validation {
    condition     = !strcontains(var.bucket_name, "..") && !strcontains(var.bucket_name, ".-") && !strcontains(var.bucket_name, "-.")
    error_message = "bucket_name must not contain two adjacent dots or a dot next to a hyphen (\"..\", \".-\", \"-.\"); separate labels with a single hyphen instead."
  }

  validation {
    condition     = !can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", var.bucket_name))
    error_message = "bucket_name must not be formatted as an IP address (such as 192.168.5.4); use a descriptive name like mirror-staging-dev."
  }

  validation {
    condition     = !can(regex("^(xn--|sthree-|amzn-s3-demo-)", var.bucket_name)) && !can(regex("(-s3alias|--ol-s3|\\.mrap|--x-s3|--table-s3)$", var.bucket_name))
    error_message = "bucket_name uses a prefix (xn--, sthree-, amzn-s3-demo-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3) that S3 reserves; drop it from the name."
  }
}

variable "object_prefix" {
  description = "Key prefix the service writes staged objects under; must equal the service's S3_PREFIX. The service policy grants s3:PutObject and s3:GetObject on this prefix only and the expiration rule applies to it."
  type        = string
  default     = "uploads/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*/$", var.object_prefix)) && length(var.object_prefix) <= 512
    error_message = "object_prefix must be a non-empty key prefix ending in \"/\" (such as uploads/), not starting with \"/\", using only letters, digits and ! _ . ( ) ' - / (no wildcards * or ?), at most 512 characters."
  }
}

variable "environment" {
  description = "Name of the environment the bucket belongs to (dev, staging, production, ...). Used to refuse force_destroy in production (prod, production, prd, with or without a suffix such as prod-eu)."
  type        = string
  default     = null

  validation {
    condition     = var.environment == null || can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.environment))
    error_message = "environment must be a short lower-case name such as dev, staging or production (letters, digits, hyphens; at most 32 characters)."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket while it still holds objects (every version). For disposable, non-production buckets only; refused when environment is a production name."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = !var.force_destroy || !can(regex("^(prod|production|prd)(-|$)", coalesce(var.environment, "unset")))
    error_message = "force_destroy = true is refused for a production environment: empty the bucket deliberately (or set environment to a non-production name) instead."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for default encryption (SSE-KMS with an S3 Bucket Key). Null uses SSE-S3 (AES256). The key must be in the bucket's region."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be the ARN of a KMS key, such as arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab; key IDs and aliases are not accepted because the service policy needs the key ARN."
  }
}

variable "tags" {
  description = "Tags to add to every resource the module creates (the bucket and, when created, the service role)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Lifecycle
################################################################################

variable "object_expiration_days" {
  description = "Days after which staged objects under object_prefix expire (become noncurrent versions). Null keeps current objects forever (a bucket of records rather than staged uploads, such as Terraform state); noncurrent versions still expire after noncurrent_version_expiration_days."
  type        = number
  default     = 30

  validation {
    condition     = var.object_expiration_days == null || try(var.object_expiration_days >= 1 && floor(var.object_expiration_days) == var.object_expiration_days, false)
    error_message = "object_expiration_days must be a whole number of days, at least 1, or null to keep current objects."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a noncurrent (overwritten or expired) object version is deleted for good, anywhere in the bucket."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which the parts of an unfinished multipart upload are deleted, anywhere in the bucket."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number of days, at least 1."
  }
}

################################################################################
# Service role (EKS Pod Identity and/or IRSA)
################################################################################

variable "enable_pod_identity" {
  description = "Create the service role with a trust policy for EKS Pod Identity (principal pods.eks.amazonaws.com, sts:AssumeRole and sts:TagSession). Bind it to the service account with an EKS pod identity association (modules/eks `pod_identity_associations`)."
  type        = bool
  default     = false
  nullable    = false
}

variable "irsa_oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (modules/eks output `oidc_provider_arn`). When set, the service role trusts that provider for the service account service_account_namespace/service_account_name (IRSA)."
  type        = string
  default     = null

  validation {
    condition     = var.irsa_oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.irsa_oidc_provider_arn))
    error_message = "irsa_oidc_provider_arn must be an IAM OIDC provider ARN such as arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE (the eks module's oidc_provider_arn output)."
  }
}

variable "service_account_namespace" {
  description = "Kubernetes namespace of the service's service account. Required with irsa_oidc_provider_arn (it is part of the web identity condition)."
  type        = string
  default     = null

  validation {
    condition     = var.service_account_namespace == null || can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.service_account_namespace))
    error_message = "service_account_namespace must be a Kubernetes namespace name: lower-case letters, digits and hyphens, at most 63 characters."
  }

  validation {
    condition     = var.irsa_oidc_provider_arn == null || var.service_account_namespace != null
    error_message = "service_account_namespace is required when irsa_oidc_provider_arn is set: the IRSA trust is limited to one namespace/service account."
  }
}

variable "service_account_name" {
  description = "Name of the service's Kubernetes service account. Required with irsa_oidc_provider_arn (it is part of the web identity condition)."
  type        = string
  default     = null

  validation {
    condition     = var.service_account_name == null || can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", var.service_account_name))
    error_message = "service_account_name must be a Kubernetes object name: lower-case letters, digits, hyphens and dots."
  }

  validation {
    condition     = var.irsa_oidc_provider_arn == null || var.service_account_name != null
    error_message = "service_account_name is required when irsa_oidc_provider_arn is set: the IRSA trust is limited to one namespace/service account."
  }
}

variable "service_role_name" {
  description = "Name of the service role. Null derives it from the bucket name (`<bucket_name>-service`, shortened to IAM's 64 characters)."
  type        = string
  default     = null

  validation {
    condition     = var.service_role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.service_role_name))
    error_message = "service_role_name must be 1-64 characters of letters, digits and + = , . @ _ -."
  }
}

variable "service_role_permissions_boundary_arn" {
  description = "ARN of an IAM policy to set as the service role's permissions boundary, where the account requires one."
  type        = string
  default     = null

  validation {
    condition     = var.service_role_permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.service_role_permissions_boundary_arn))
    error_message = "service_role_permissions_boundary_arn must be an IAM policy ARN such as arn:aws:iam::111122223333:policy/boundary."
  }
}

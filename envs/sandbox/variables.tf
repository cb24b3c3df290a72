variable "emulator_endpoint" {
  description = "URL of the S3 emulator (moto server) every AWS call goes to, e.g. http://127.0.0.1:4566. `make sandbox` starts the emulator and sets this."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/\\s]+(:[0-9]+)?/?$", var.emulator_endpoint))
    error_message = "emulator_endpoint must be a plain http(s) URL with host and optional port, such as http://127.0.0.1:4566."
  }
}

variable "region" {
  description = "Region the emulator reports for the bucket."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like an AWS region, such as us-east-1."
  }
}

variable "bucket_name" {
  description = "Name of the staging bucket created in the emulator."
  type        = string
  default     = "mirror-staging-sandbox"
}

variable "object_prefix" {
  description = "Key prefix the service writes uploads under; the bucket's lifecycle rule and the service policy use the same prefix."
  type        = string
  default     = "uploads/"
}

variable "region" {
  description = "AWS region to create the example in."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "name" {
  description = "Name of the example cluster; also the stem of the VPC and bucket names."
  type        = string
  default     = "mirror-example"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lower-case letters, digits and hyphens, starting with a letter (it becomes part of a bucket name)."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the example VPC; split into two public and two private /20 subnets."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrsubnet(var.vpc_cidr, 4, 3))
    error_message = "vpc_cidr must be an IPv4 CIDR block of /16 to /24, such as 10.42.0.0/16."
  }
}

variable "availability_zones" {
  description = "Two Availability Zones for the subnets; null uses the region's zones a and b."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || length(coalesce(var.availability_zones, [])) == 2
    error_message = "availability_zones must list exactly two zones, such as [\"us-east-1a\", \"us-east-1b\"]."
  }
}

variable "api_public_access" {
  description = "Also expose the API server publicly, to api_allowed_cidrs only. Off: the API is reachable from inside the VPC only."
  type        = bool
  default     = false
}

variable "api_allowed_cidrs" {
  description = "Source ranges allowed to reach the public API endpoint when api_public_access is on (your workstation or CI egress, such as 203.0.113.10/32)."
  type        = list(string)
  default     = []
}

variable "cluster_admin_role_arn" {
  description = "IAM role that administers the cluster and deploys into it: the role you run Terraform as (arn:aws:iam::ACCOUNT:role/NAME; `aws sts get-caller-identity` shows the assumed-role session, whose role this is)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.cluster_admin_role_arn))
    error_message = "cluster_admin_role_arn must be an IAM role ARN such as arn:aws:iam::111122223333:role/platform-deployer (the role, not an arn:aws:sts::...:assumed-role/... session)."
  }
}

variable "region" {
  description = "AWS region of the cluster and the bucket."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string
  default     = "mirror"
}

variable "kubernetes_version" {
  description = "Kubernetes version of the cluster. Null takes modules/eks's default, a version in EKS standard support. After EKS upgraded the cluster by itself, set the version it runs (the plan says which)."
  type        = string
  default     = null
}

variable "cluster_admin_role_arns" {
  description = "Who administers the cluster, by a name of your choice: the IAM role `terraform apply` runs as, whose helm provider installs the release (the pipeline's apply role; your own role for an apply from a workstation). Never derived from whoever runs Terraform."
  type        = map(string)
  nullable    = false

  validation {
    condition     = length(var.cluster_admin_role_arns) > 0
    error_message = "Set cluster_admin_role_arns = { apply = \"arn:aws:iam::ACCOUNT:role/ROLE\" } to the role terraform apply runs as (its helm provider needs cluster access); with none, nobody can reach the new cluster's API."
  }
}

variable "cluster_viewer_role_arns" {
  description = "Roles that may read the cluster without changing it, by a name of your choice: the pipeline's plan role, whose helm provider reads the release. Empty when plan and apply run as the same role."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "subnet_ids" {
  description = "Existing private subnets (at least two, in different availability zones) for the cluster and its nodes."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two subnets in different availability zones (EKS requires two)."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the cluster's public API endpoint (your office, the CI runners' fixed egress). Empty keeps the endpoint private: Terraform then has to run inside the VPC."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "endpoint_public_access_from_anywhere" {
  description = "Reviewed exception for runners without fixed egress addresses (shared GitLab.com runners): open the public API endpoint to 0.0.0.0/0. IAM authentication and the access entries still guard the API. Leave endpoint_public_access_cidrs empty when true."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = !var.endpoint_public_access_from_anywhere || length(var.endpoint_public_access_cidrs) == 0
    error_message = "endpoint_public_access_from_anywhere = true opens the endpoint to 0.0.0.0/0: remove endpoint_public_access_cidrs (or set endpoint_public_access_from_anywhere = false to keep only those ranges)."
  }
}

variable "node_instance_types" {
  description = "Instance types of the managed node group. The default with node_min_size fits a rolling update of the release (3 pods of 1 CPU): the sizing rule is in modules/eks/variables.tf, above node_groups."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT."
  type        = string
  default     = "ON_DEMAND"
}

variable "node_min_size" {
  description = "Minimum nodes."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum nodes."
  type        = number
  default     = 4
}

variable "node_desired_size" {
  description = "Initial nodes."
  type        = number
  default     = 2
}

variable "bucket_name" {
  description = "Globally unique name of the staging bucket, e.g. <org>-mirror-staging-<account-id>."
  type        = string
}

variable "object_prefix" {
  description = "Key prefix of uploaded objects; the service's IAM policy is limited to it."
  type        = string
  default     = "uploads/"
}

variable "namespace" {
  description = "Namespace of the release."
  type        = string
  default     = "mirror"
}

variable "release_name" {
  description = "Helm release name; also the ServiceAccount that Pod Identity binds to the service role."
  type        = string
  default     = "mirror"
}

variable "image_repository" {
  description = "Repository of the service image the nodes can pull (ECR, or the GitLab registry with a pull secret)."
  type        = string
}

variable "image_tag" {
  description = "Tag of the service image: the pipeline passes the commit SHA (the version on a git tag) with -var after any tfvars file, so the image deployed is the image built."
  type        = string
}

variable "image_digest" {
  description = "Optional sha256 digest pinning the image exactly (sha256:...)."
  type        = string
  default     = null
}

variable "image_pull_credentials" {
  description = "Credentials of a private registry other than ECR (e.g. a GitLab deploy token for $CI_REGISTRY_IMAGE; set it as TF_VAR_image_pull_credentials, never in a file): the release creates the pull Secret in the namespace it creates, so a fresh cluster pulls the image in the same apply. Null for ECR, which the nodes' role pulls from."
  type = object({
    registry = string
    username = string
    password = string
  })
  default   = null
  sensitive = true
}

variable "autoscaling" {
  description = "HorizontalPodAutoscaler bounds of the service (on whenever the cluster has the metrics-server add-on, which modules/eks installs by default)."
  type = object({
    min_replicas                      = optional(number, 2)
    max_replicas                      = optional(number, 6)
    target_cpu_utilization_percentage = optional(number, 70)
  })
  default  = {}
  nullable = false
}

variable "hostname" {
  description = "Public DNS name of the service (an Ingress for the AWS Load Balancer Controller, TLS with certificate_arn). Null: no Ingress; reach the Service with kubectl port-forward. Point the name at the load balancer yourself (or with external-dns)."
  type        = string
  default     = null

  validation {
    condition     = var.hostname == null || can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$", coalesce(var.hostname, "-")))
    error_message = "hostname must be a lower-case DNS name such as mirror.example.com (no scheme, no path)."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (in region) covering hostname; the load balancer ends TLS with it. Required with hostname."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", coalesce(var.certificate_arn, "-")))
    error_message = "certificate_arn must be an ACM certificate ARN such as arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012."
  }

  validation {
    condition     = var.hostname == null || var.certificate_arn != null
    error_message = "hostname needs certificate_arn: request or import an ACM certificate for the hostname in this region and set certificate_arn to its ARN (the service is served over https only)."
  }
}

variable "load_balancer_scheme" {
  description = "internet-facing (default) or internal (reachable only inside the VPC and networks connected to it)."
  type        = string
  default     = "internet-facing"
  nullable    = false

  validation {
    condition     = contains(["internet-facing", "internal"], var.load_balancer_scheme)
    error_message = "load_balancer_scheme must be internet-facing or internal."
  }
}

variable "upload_token" {
  description = "Bearer token POST /api/upload-random requires. Pass it as TF_VAR_upload_token (a masked CI variable in the pipeline), never in a file."
  type        = string
  sensitive   = true
}

variable "tags" {
  description = "Tags added to every AWS resource (on top of environment and managed-by)."
  type        = map(string)
  default     = {}
}

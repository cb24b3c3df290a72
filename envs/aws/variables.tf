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
  description = "Kubernetes version of the cluster (EKS standard support)."
  type        = string
  default     = "1.33"
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
  description = "CIDRs allowed to reach the cluster's public API endpoint (e.g. your office, the CI runners). Empty keeps the endpoint private: Terraform then has to run inside the VPC."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["t3.medium"]
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
  description = "Tag of the service image (the pipeline uses the commit's short SHA)."
  type        = string
}

variable "image_digest" {
  description = "Optional sha256 digest pinning the image exactly (sha256:...)."
  type        = string
  default     = null
}

variable "image_pull_secrets" {
  description = "Secrets (type kubernetes.io/dockerconfigjson) in the namespace for pulling from a private registry, e.g. a GitLab deploy token for $CI_REGISTRY_IMAGE. Empty for ECR: the nodes' role pulls from it."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "autoscaling" {
  description = "HorizontalPodAutoscaler bounds of the service."
  type = object({
    min_replicas                      = optional(number, 2)
    max_replicas                      = optional(number, 6)
    target_cpu_utilization_percentage = optional(number, 70)
  })
  default  = {}
  nullable = false
}

variable "ingress" {
  description = "Optional Ingress in front of the Service (see modules/kubernetes-app `ingress`)."
  type = object({
    enabled         = optional(bool, false)
    class_name      = optional(string, "")
    host            = optional(string)
    path            = optional(string, "/")
    tls_secret_name = optional(string)
    annotations     = optional(map(string), {})
  })
  default  = {}
  nullable = false
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

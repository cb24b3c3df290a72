variable "kube_config_path" {
  description = "Path of the kubeconfig holding the Minikube context."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Kubeconfig context of the cluster: `minikube` (Minikube's default profile) or e.g. `kind-kind`."
  type        = string
  default     = "minikube"

  validation {
    condition     = length(trimspace(var.kube_context)) > 0
    error_message = "kube_context must name a context from your kubeconfig, such as minikube (see `kubectl config get-contexts`)."
  }
}

variable "namespace" {
  description = "Namespace the release goes into (created if missing)."
  type        = string
  default     = "mirror"
}

variable "release_name" {
  description = "Helm release name; also names the Deployment, Service and ServiceAccount."
  type        = string
  default     = "mirror"
}

variable "image_repository" {
  description = "Image repository inside the cluster: `minikube image build -t mirror-service:dev app/` makes `mirror-service`."
  type        = string
  default     = "mirror-service"
}

variable "image_tag" {
  description = "Image tag built into the cluster."
  type        = string
  default     = "dev"
}

variable "region" {
  description = "Region of the bucket (the emulator accepts any)."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the staging bucket (in the emulator by default; globally unique when use_real_s3 = true)."
  type        = string
  default     = "mirror-staging-local"
}

variable "object_prefix" {
  description = "Key prefix of uploaded objects."
  type        = string
  default     = "uploads/"
}

variable "use_real_s3" {
  description = "false (default): the bucket lives in an S3 emulator on this machine, no AWS account needed. true: a real S3 bucket, with AWS credentials from your environment and s3_access_key_id/s3_secret_access_key for the pod."
  type        = bool
  default     = false
  nullable    = false
}

variable "emulator_endpoint" {
  description = "The S3 emulator as Terraform on this machine reaches it (start it from the repository root with `.venv/bin/python -m harness.moto_server -H 0.0.0.0 -p 4566`)."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://[^/\\s]+/?$", var.emulator_endpoint))
    error_message = "emulator_endpoint must be an http(s) URL with host and port, such as http://127.0.0.1:4566."
  }
}

variable "emulator_endpoint_in_cluster" {
  description = "The same emulator as pods reach it. Minikube resolves host.minikube.internal to this machine; on kind use the Docker network gateway, e.g. http://172.18.0.1:4566."
  type        = string
  default     = "http://host.minikube.internal:4566"

  validation {
    condition     = can(regex("^https?://[^/\\s]+/?$", var.emulator_endpoint_in_cluster))
    error_message = "emulator_endpoint_in_cluster must be an http(s) URL with host and port, such as http://host.minikube.internal:4566."
  }
}

variable "upload_token" {
  description = "Bearer token POST /api/upload-random requires. Pass it as TF_VAR_upload_token, never in a file."
  type        = string
  sensitive   = true
}

variable "s3_access_key_id" {
  description = "Required with use_real_s3 = true (export TF_VAR_s3_access_key_id): an access key the pod uses for S3 (Minikube has no Pod Identity). Ignored with the emulator."
  type        = string
  default     = null
  sensitive   = true

  # Refused at plan time, not five minutes later when the pods cannot authenticate.
  validation {
    condition     = !var.use_real_s3 || try(length(trimspace(var.s3_access_key_id)) > 0, false)
    error_message = "use_real_s3 = true needs the pod's S3 credentials: export TF_VAR_s3_access_key_id and TF_VAR_s3_secret_access_key (an access key allowed to write to bucket_name), or set use_real_s3 = false to use the emulator."
  }
}

variable "s3_secret_access_key" {
  description = "Required with use_real_s3 = true (export TF_VAR_s3_secret_access_key): the secret of s3_access_key_id."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = !var.use_real_s3 || try(length(trimspace(var.s3_secret_access_key)) > 0, false)
    error_message = "use_real_s3 = true needs TF_VAR_s3_secret_access_key too (the secret of TF_VAR_s3_access_key_id), or set use_real_s3 = false to use the emulator."
  }
}

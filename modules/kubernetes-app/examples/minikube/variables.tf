variable "kube_config_path" {
  description = "kubeconfig file with the Minikube context."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context of the cluster (`minikube` is Minikube's default profile)."
  type        = string
  default     = "minikube"
}

variable "namespace" {
  description = "Namespace to deploy into (created by Helm when missing)."
  type        = string
  default     = "mirror"
}

variable "image_repository" {
  description = "Image built into the cluster: `minikube image build -t mirror-service:dev app/`."
  type        = string
  default     = "mirror-service"
}

variable "image_tag" {
  description = "Tag of that image."
  type        = string
  default     = "dev"
}

variable "s3_bucket" {
  description = "Bucket in the emulator (create it first, e.g. with envs/local or `aws s3 mb`)."
  type        = string
  default     = "mirror-staging-local"
}

variable "s3_endpoint_url" {
  description = "The emulator as the pods see it: Minikube reaches the host as host.minikube.internal."
  type        = string
  default     = "http://host.minikube.internal:5000"
}

# Secrets: sensitive, and deliberately without validation blocks here (Terraform prints a failing
# root variable's value in the diagnostic); the module validates them.
variable "upload_token" {
  description = "UPLOAD_TOKEN (16+ visible characters), e.g. TF_VAR_upload_token=$(openssl rand -base64 32)."
  type        = string
  sensitive   = true
}

variable "emulator_access_key_id" {
  description = "Key id the emulator accepts (moto accepts any pair; it works nowhere else)."
  type        = string
  default     = "local"
  sensitive   = true
}

variable "emulator_secret_access_key" {
  description = "Secret key the emulator accepts."
  type        = string
  default     = "local"
  sensitive   = true
}

# S3: the emulator on this machine by default, real S3 when use_real_s3 = true (credentials then come
# from the usual AWS environment/profile, never from this file).
provider "aws" {
  region = var.region

  # The emulator accepts any key pair; these never work anywhere else. Null → the normal credential chain.
  access_key = var.use_real_s3 ? null : local.emulator_access_key
  secret_key = var.use_real_s3 ? null : local.emulator_secret_key

  s3_use_path_style           = !var.use_real_s3
  skip_credentials_validation = !var.use_real_s3
  skip_metadata_api_check     = !var.use_real_s3

  endpoints {
    s3  = var.use_real_s3 ? null : var.emulator_endpoint
    sts = var.use_real_s3 ? null : var.emulator_endpoint
    iam = var.use_real_s3 ? null : var.emulator_endpoint
  }

  default_tags {
    tags = {
      environment = "local"
      managed-by  = "terraform"
    }
  }
}

# The helm provider reads the kubeconfig explicitly: it ignores KUBECONFIG unless told.
provider "helm" {
  kubernetes = {
    config_path    = pathexpand(var.kube_config_path)
    config_context = var.kube_context
  }
}

# The same cluster for the kubernetes provider: the release namespace and its Pod Security labels.
provider "kubernetes" {
  config_path    = pathexpand(var.kube_config_path)
  config_context = var.kube_context
}


# envs/local: the service on Minikube (or kind), its bucket in an S3 emulator on this machine by
# default. The image is built into the cluster beforehand: `minikube image build -t mirror-service:dev app/`.

locals {
  # One name for the environment in every module (kubernetes-app knows dev and prod).
  environment = "dev"

  # The emulator accepts any key pair; the pods get this one through the chart's Secret (dev only).
  emulator_access_key = "local"
  emulator_secret_key = "local-emulator-secret"
}

module "staging_bucket" {
  source = "../../modules/s3-staging"

  bucket_name   = var.bucket_name
  object_prefix = var.object_prefix
  environment   = local.environment
  # A laptop bucket: destroy must not be blocked by the objects the service wrote.
  force_destroy = true
}

module "app" {
  source = "../../modules/kubernetes-app"

  release_name     = var.release_name
  namespace        = var.namespace
  create_namespace = true
  environment      = local.environment

  image_repository = var.image_repository
  image_tag        = var.image_tag
  replicas         = 1

  s3_bucket       = module.staging_bucket.bucket_name
  s3_region       = var.region
  s3_prefix       = module.staging_bucket.object_prefix
  s3_endpoint_url = var.use_real_s3 ? null : var.emulator_endpoint_in_cluster

  upload_token         = var.upload_token
  s3_access_key_id     = var.use_real_s3 ? var.s3_access_key_id : local.emulator_access_key
  s3_secret_access_key = var.use_real_s3 ? var.s3_secret_access_key : local.emulator_secret_key

  # One node, and the emulator listens on the host: keep the policy, open only what the pod needs.
  pdb = { enabled = false }
  resources = {
    requests = { cpu = "50m", memory = "128Mi" }
    limits   = { cpu = "500m", memory = "384Mi" }
  }
}

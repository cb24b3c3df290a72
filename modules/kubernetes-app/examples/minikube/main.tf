# The mirror service on Minikube against an S3 emulator running on the host: one replica, dev
# environment, emulator endpoint and keys. `terraform apply`, then `helm test mirror -n mirror`.
module "app" {
  source = "../.."

  release_name     = "mirror"
  namespace        = var.namespace
  create_namespace = true
  environment      = "dev"

  image_repository = var.image_repository
  image_tag        = var.image_tag

  s3_bucket       = var.s3_bucket
  s3_endpoint_url = var.s3_endpoint_url

  upload_token         = var.upload_token
  s3_access_key_id     = var.emulator_access_key_id
  s3_secret_access_key = var.emulator_secret_access_key

  replicas  = 1
  log_level = "DEBUG"
  pdb       = { enabled = false }
  resources = {
    requests = { cpu = "50m", memory = "192Mi" }
    limits   = { cpu = "500m", memory = "384Mi" }
  }
  # Minikube's default CNI does not enforce NetworkPolicy; the policy is still rendered and kept correct.
  network_policy = { pod_identity_agent = false }
}

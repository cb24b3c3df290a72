# The sandbox environment: the service's staging bucket, built by the same module the real
# environments use, inside an S3 emulator. The service itself runs as a local gunicorn process that
# `make sandbox` (harness/sandbox.py) starts with `service_environment` below.
module "staging_bucket" {
  source = "../../modules/s3-staging"

  bucket_name   = var.bucket_name
  object_prefix = var.object_prefix
  # Disposable by design: the emulator's buckets vanish with it, so destroy must never be blocked.
  force_destroy = true

  tags = {
    purpose = "mirror-service staging (sandbox)"
  }
}

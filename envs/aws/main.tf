# envs/aws: the staging bucket, an EKS cluster, and the service released onto it. The pods get S3
# access through EKS Pod Identity (role from modules/s3-staging, association in modules/eks): no
# static keys anywhere. State: S3 with native locking (see versions.tf and backend.s3.tfbackend.example).

locals {
  service_account = var.release_name
  # One name for the environment in every module: kubernetes-app knows dev and prod, and s3-staging
  # treats prod (like production) as a production name (force_destroy refused, lifecycle required).
  environment = "prod"
}

# For the account_id output only; cluster access goes to cluster_admin_role_arns, never to the caller.
data "aws_caller_identity" "current" {}

module "staging_bucket" {
  source = "../../modules/s3-staging"

  bucket_name   = var.bucket_name
  object_prefix = var.object_prefix
  environment   = local.environment

  enable_pod_identity       = true
  service_account_namespace = var.namespace
  service_account_name      = local.service_account
}

module "eks" {
  source = "../../modules/eks"

  cluster_name       = var.cluster_name
  kubernetes_version = var.kubernetes_version
  subnet_ids         = var.subnet_ids

  endpoint_public_access                = length(local.endpoint_public_access_cidrs) > 0
  endpoint_public_access_cidrs          = local.endpoint_public_access_cidrs
  endpoint_public_access_allow_internet = var.endpoint_public_access_from_anywhere

  # The apply role (whose helm provider installs the release) administers the cluster; the plan role
  # may read it, Helm's release Secret included. Never "whoever ran the plan".
  cluster_admin_role_arns  = var.cluster_admin_role_arns
  cluster_viewer_role_arns = var.cluster_viewer_role_arns

  node_groups = {
    default = {
      instance_types = var.node_instance_types
      capacity_type  = var.node_capacity_type
      min_size       = var.node_min_size
      max_size       = var.node_max_size
      desired_size   = var.node_desired_size
    }
  }

  pod_identity_associations = {
    mirror-service = {
      namespace       = var.namespace
      service_account = local.service_account
      role_arn        = module.staging_bucket.service_role_arn
    }
  }
}

module "app" {
  source = "../../modules/kubernetes-app"

  release_name         = var.release_name
  namespace            = var.namespace
  create_namespace     = true
  environment          = local.environment
  service_account_name = local.service_account

  image_repository       = var.image_repository
  image_tag              = var.image_tag
  image_digest           = var.image_digest
  image_pull_credentials = var.image_pull_credentials
  # An HPA without the Metrics API never scales (targets <unknown>): on only with metrics-server.
  autoscaling = merge(var.autoscaling, { enabled = contains(module.eks.addon_names, "metrics-server") })

  s3_bucket = module.staging_bucket.bucket_name
  s3_region = var.region
  s3_prefix = module.staging_bucket.object_prefix

  upload_token = var.upload_token
  ingress      = local.ingress
  # Behind the ALB (60 s idle timeout) gunicorn must keep idle connections open longer than the load
  # balancer does, or the ALB reuses a connection gunicorn is closing and answers 502 (AWS's ALB docs,
  # "Connection idle timeout"). X-Forwarded-* stay untrusted: the service builds no URL from them.
  # Without a hostname there is no ALB, and the service's own keep-alive applies.
  server = var.hostname == null ? {} : { GUNICORN_KEEPALIVE = "65" }

  # The association must exist before the pods start, or their first credentials lookup fails.
  depends_on = [module.eks]
}

# The service's home on AWS: an EKS cluster whose pods get credentials through EKS Pod Identity, and
# the staging bucket whose service role the service account is bound to.

module "eks" {
  source = "../../"

  cluster_name       = var.name
  kubernetes_version = "1.35"
  subnet_ids         = aws_subnet.private[*].id

  endpoint_public_access       = var.api_public_access
  endpoint_public_access_cidrs = var.api_allowed_cidrs

  # The role that deploys into the cluster (your own, or the pipeline's apply role) is cluster admin,
  # named explicitly: never whichever identity happens to run the plan.
  cluster_admin_role_arns = { deployer = var.cluster_admin_role_arn }

  # Read-only access for an operations role, limited to the service's namespace.
  access_entries = {
    operators = {
      principal_arn = aws_iam_role.operators.arn
      policy_associations = {
        view = {
          policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
          access_scope = { type = "namespace", namespaces = ["mirror"] }
        }
      }
    }
  }

  # The default add-ons (vpc-cni, kube-proxy, eks-pod-identity-agent before the nodes; coredns after).
  pod_identity_associations = {
    mirror-service = {
      namespace       = "mirror"
      service_account = "mirror-service"
      role_arn        = module.staging_bucket.service_role_arn
    }
  }

  node_groups = {
    default = {
      instance_types = ["m6i.xlarge"]
      min_size       = 1
      max_size       = 3
      desired_size   = 2
    }
  }

  tags = { service = "mirror-service" }
}

module "staging_bucket" {
  source = "../../../s3-staging"

  bucket_name         = "${var.name}-staging-${data.aws_caller_identity.current.account_id}"
  environment         = "staging"
  enable_pod_identity = true

  tags = { service = "mirror-service" }
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "operators_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "operators" {
  name_prefix        = "${var.name}-operators-"
  description        = "Operators with read-only access to the mirror namespace of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.operators_assume_role.json
}

# The eks module as the emulator can apply it: a VPC with two subnets in different zones, and the
# module with everything moto implements (cluster, KMS key and policy, log group, IAM roles, node
# group, IRSA OIDC provider). Add-ons, access entries, pod identity associations, access_config and
# upgrade_policy are not implemented by moto; tests/modules/test_eks.py verifies them by plan.

variable "cluster_name" {
  description = "Unique name of the test cluster."
  type        = string
}

resource "aws_vpc" "this" {
  cidr_block = "10.77.0.0/16"

  tags = { Name = var.cluster_name }
}

resource "aws_subnet" "private" {
  count = 2

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 4, count.index)
  availability_zone = ["us-east-1a", "us-east-1b"][count.index]

  tags = { Name = "${var.cluster_name}-private-${count.index}" }
}

module "eks" {
  source = "../../modules/eks"

  cluster_name       = var.cluster_name
  kubernetes_version = "1.33"
  subnet_ids         = aws_subnet.private[*].id

  # Not implemented by the emulator (see above): verified by plan instead.
  addons               = {}
  authentication_mode  = null
  upgrade_support_type = null

  enable_irsa                            = true
  kms_key_deletion_window_in_days        = 7
  cloudwatch_log_group_retention_in_days = 90

  node_groups = {
    workers = {
      instance_types = ["m6i.large"]
      min_size       = 1
      max_size       = 4
      desired_size   = 2
      labels         = { role = "workers" }
    }
  }

  tags = { suite = "tests/modules" }
}

output "subnet_ids" {
  description = "Subnets the cluster was created in."
  value       = aws_subnet.private[*].id
}

output "eks" {
  description = "Every output of the module."
  value       = module.eks
}

################################################################################
# Node IAM role
################################################################################

data "aws_iam_policy_document" "node_assume_role" {
  statement {
    sid     = "Ec2AssumesNodeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  count = length(var.node_groups) > 0 ? 1 : 0

  name_prefix           = "${substr(var.cluster_name, 0, 24)}-node-"
  description           = "EKS managed nodes of ${var.cluster_name}"
  assume_role_policy    = data.aws_iam_policy_document.node_assume_role.json
  permissions_boundary  = var.iam_role_permissions_boundary_arn
  force_detach_policies = true

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = length(var.node_groups) > 0 ? toset([
    "AmazonEKSWorkerNodePolicy",
    # Pull-only is narrower than ReadOnly: nodes only pull images.
    "AmazonEC2ContainerRegistryPullOnly",
    # The VPC CNI runs with the node's credentials unless it is given its own role.
    "AmazonEKS_CNI_Policy",
  ]) : toset([])

  role       = aws_iam_role.node[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

################################################################################
# Managed node groups
################################################################################

resource "aws_eks_node_group" "this" {
  for_each = var.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node[0].arn
  subnet_ids      = coalesce(each.value.subnet_ids, var.subnet_ids)
  version         = var.kubernetes_version

  ami_type       = each.value.ami_type
  capacity_type  = each.value.capacity_type
  instance_types = each.value.instance_types
  disk_size      = each.value.disk_size
  labels         = length(each.value.labels) > 0 ? each.value.labels : null

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  dynamic "update_config" {
    # Null keeps EKS's default of replacing one node at a time.
    for_each = each.value.max_unavailable_percentage == null ? [] : [each.value.max_unavailable_percentage]

    content {
      max_unavailable_percentage = update_config.value
    }
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [
      # desired_size is the initial size only: the cluster autoscaler (or Karpenter) owns it afterwards,
      # and Terraform resetting it on every apply would undo scaling.
      scaling_config[0].desired_size,
    ]
  }

  depends_on = [
    # Nodes need their policies to join, and networking plus the Pod Identity agent to become Ready.
    aws_iam_role_policy_attachment.node,
    aws_eks_addon.before_compute,
  ]
}

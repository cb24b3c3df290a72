# An EKS cluster in existing subnets: private API endpoint by default, secrets envelope-encrypted
# with KMS, every control-plane log type kept, IAM access through access entries only, and the two
# ways a pod gets AWS credentials (Pod Identity, IRSA).

data "aws_partition" "current" {}
# For the account ID only (key policy, log group ARN): never for who gets cluster access.
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix
  account_id = data.aws_caller_identity.current.account_id

  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  # The region comes from the key's ARN: data.aws_region would need .name on 5.x and .region on 6.x.
  region = local.create_kms_key ? split(":", aws_kms_key.this[0].arn)[3] : split(":", var.kms_key_arn)[3]

  log_group_name = "/aws/eks/${var.cluster_name}/cluster"

  # End of EKS standard support per minor version, from the Amazon EKS Kubernetes release calendar
  # (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar).
  # After that date a STANDARD upgrade policy lets EKS upgrade the control plane by itself; add the
  # next version here when EKS releases it, and move the kubernetes_version default with it.
  end_of_standard_support = {
    "1.33" = "2026-07-29"
    "1.34" = "2026-12-02"
    "1.35" = "2027-03-27"
  }
  log_group_kms_key_arn = var.cloudwatch_log_group_kms_key_arn != null ? var.cloudwatch_log_group_kms_key_arn : (local.create_kms_key ? aws_kms_key.this[0].arn : null)
}

################################################################################
# KMS key for Kubernetes secrets (and the control-plane log group)
################################################################################

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "EKS cluster ${var.cluster_name}: envelope encryption of Kubernetes secrets and control-plane logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  # The key's own policy is aws_kms_key_policy.this: it names the regional CloudWatch Logs principal,
  # and the region is only known from this key's ARN.

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/eks/${var.cluster_name}"
  target_key_id = aws_kms_key.this[0].key_id
}

data "aws_iam_policy_document" "kms" {
  count = local.create_kms_key ? 1 : 0

  #checkov:skip=CKV_AWS_109:In a key policy "*" means this key only; delegating administration to the account's IAM is AWS's default key policy.
  #checkov:skip=CKV_AWS_111:In a key policy "*" means this key only; delegating administration to the account's IAM is AWS's default key policy.
  #checkov:skip=CKV_AWS_356:In a key policy "*" means this key only; the logs statement is further limited to this cluster's log group.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsThisClusterLogGroup"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"]
    }
  }
}

resource "aws_kms_key_policy" "this" {
  count = local.create_kms_key ? 1 : 0

  key_id = aws_kms_key.this[0].key_id
  policy = data.aws_iam_policy_document.kms[0].json
}

################################################################################
# Control-plane logs
################################################################################

# Created before the cluster so EKS writes into a group with retention and encryption, instead of
# creating one that keeps logs forever.
resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = local.log_group_kms_key_arn

  tags = var.tags

  # CloudWatch Logs checks the key policy when the key is associated.
  depends_on = [aws_kms_key_policy.this]
}

################################################################################
# Cluster IAM role
################################################################################

data "aws_iam_policy_document" "cluster_assume_role" {
  statement {
    sid = "EksAssumesClusterRole"
    # sts:TagSession is required by EKS Auto Mode and harmless otherwise.
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name_prefix           = "${substr(var.cluster_name, 0, 24)}-cluster-"
  description           = "EKS control plane of ${var.cluster_name}"
  assume_role_policy    = data.aws_iam_policy_document.cluster_assume_role.json
  permissions_boundary  = var.iam_role_permissions_boundary_arn
  force_detach_policies = true

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# The key policy delegates to IAM, so the control plane's use of the key is granted here, on this key only.
data "aws_iam_policy_document" "cluster_encryption" {
  statement {
    sid       = "EnvelopeEncryptSecrets"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [local.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "cluster_encryption" {
  name   = "secrets-encryption"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_encryption.json
}

################################################################################
# Cluster
################################################################################

# The version the cluster runs now, if it exists already. EKS upgrades a control plane by itself when
# its version leaves support (standard support with upgrade_support_type = STANDARD), and the AWS
# provider would then plan UpdateClusterVersion back to the configured, older version, which EKS
# refuses (it cannot downgrade) halfway through an apply. The precondition below stops the plan instead.
data "aws_eks_clusters" "existing" {}

data "aws_eks_cluster" "existing" {
  count = contains(data.aws_eks_clusters.existing.names, var.cluster_name) ? 1 : 0

  name = var.cluster_name
}

locals {
  running_kubernetes_version = try(data.aws_eks_cluster.existing[0].version, null)
}

# A warning on every plan once the chosen version has left standard support: from then on the cluster
# costs extended-support fees (EXTENDED) or EKS upgrades it unasked (STANDARD).
check "kubernetes_version_in_standard_support" {
  assert {
    condition     = !contains(keys(local.end_of_standard_support), var.kubernetes_version) || timecmp(plantimestamp(), "${lookup(local.end_of_standard_support, var.kubernetes_version, "9999-12-31")}T00:00:00Z") < 0
    error_message = "Kubernetes ${var.kubernetes_version} left EKS standard support on ${lookup(local.end_of_standard_support, var.kubernetes_version, "-")}: upgrade kubernetes_version one minor version at a time to one in standard support."
  }
}

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = var.enabled_log_types

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.additional_security_group_ids
    # Nodes and in-VPC clients reach the API privately in every configuration.
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    # Only meaningful with the public endpoint on; otherwise EKS keeps (and reports) its default.
    public_access_cidrs = var.endpoint_public_access ? var.endpoint_public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = local.kms_key_arn
    }
  }

  access_config {
    authentication_mode = var.authentication_mode
    # EKS's bootstrap admin is a one-time, invisible grant to whoever created the cluster;
    # cluster_admin_role_arns grants the same access as access entries that plans show and destroy removes.
    bootstrap_cluster_creator_admin_permissions = false
  }

  upgrade_policy {
    support_type = var.upgrade_support_type
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition = local.running_kubernetes_version == null ? true : (
        tonumber(split(".", var.kubernetes_version)[1]) >= tonumber(split(".", coalesce(local.running_kubernetes_version, "1.0"))[1])
      )
      error_message = "The cluster ${var.cluster_name} already runs Kubernetes ${coalesce(local.running_kubernetes_version, "-")} (EKS upgrades a control plane by itself when its version leaves support), and EKS cannot downgrade it: set kubernetes_version = \"${coalesce(local.running_kubernetes_version, "-")}\" (or the next minor version to upgrade)."
    }
  }

  depends_on = [
    # Without its policies the role cannot create the cluster's network interfaces; without the log
    # group EKS would create its own, with unlimited retention.
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_encryption,
    aws_cloudwatch_log_group.this,
  ]
}

################################################################################
# Access entries
################################################################################

locals {
  # Who administers the cluster is input, never data.aws_caller_identity: in a pipeline the plan runs
  # as a read-only role and the apply as another, so "whoever planned" would make the plan role admin
  # and lock the apply role (and its helm provider) out.
  # AmazonEKSAdminViewPolicy rather than AmazonEKSViewPolicy for viewers: it also reads Secrets, where
  # Helm keeps its release records, so a plan role can refresh a helm_release without changing anything.
  role_access = merge(
    { for key, arn in var.cluster_admin_role_arns : "admin-${key}" => { arn = arn, association = "admin", policy = "AmazonEKSClusterAdminPolicy" } },
    { for key, arn in var.cluster_viewer_role_arns : "viewer-${key}" => { arn = arn, association = "view", policy = "AmazonEKSAdminViewPolicy" } },
  )

  role_access_entries = { for key, role in local.role_access : key => {
    principal_arn     = role.arn
    type              = "STANDARD"
    kubernetes_groups = null
    user_name         = null
    policy_associations = {
      (role.association) = {
        policy_arn   = "arn:${local.partition}:eks::aws:cluster-access-policy/${role.policy}"
        access_scope = { type = "cluster", namespaces = null }
      }
    }
  } }

  access_entries = merge(var.access_entries, local.role_access_entries)

  access_policy_associations = merge([
    for entry_key, entry in local.access_entries : {
      for association_key, association in entry.policy_associations :
      "${entry_key}/${association_key}" => merge(association, { entry_key = entry_key })
    }
  ]...)
}

resource "aws_eks_access_entry" "this" {
  for_each = local.access_entries

  cluster_name      = aws_eks_cluster.this.name
  principal_arn     = each.value.principal_arn
  type              = each.value.type
  kubernetes_groups = each.value.kubernetes_groups
  user_name         = each.value.user_name

  tags = var.tags
}

resource "aws_eks_access_policy_association" "this" {
  for_each = local.access_policy_associations

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.this[each.value.entry_key].principal_arn
  policy_arn    = each.value.policy_arn

  access_scope {
    type       = each.value.access_scope.type
    namespaces = each.value.access_scope.type == "namespace" ? each.value.access_scope.namespaces : null
  }
}

################################################################################
# Add-ons
################################################################################

# Networking and the Pod Identity agent must run before nodes join, or nodes stay NotReady and pods
# get no credentials; CoreDNS needs nodes to schedule on, so it follows the node groups.
resource "aws_eks_addon" "before_compute" {
  for_each = { for name, addon in var.addons : name => addon if addon.before_compute }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.addon_version
  configuration_values        = each.value.configuration_values
  resolve_conflicts_on_create = each.value.resolve_conflicts_on_create
  resolve_conflicts_on_update = each.value.resolve_conflicts_on_update
  service_account_role_arn    = each.value.service_account_role_arn
  preserve                    = each.value.preserve

  tags = var.tags
}

resource "aws_eks_addon" "this" {
  for_each = { for name, addon in var.addons : name => addon if !addon.before_compute }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.addon_version
  configuration_values        = each.value.configuration_values
  resolve_conflicts_on_create = each.value.resolve_conflicts_on_create
  resolve_conflicts_on_update = each.value.resolve_conflicts_on_update
  service_account_role_arn    = each.value.service_account_role_arn
  preserve                    = each.value.preserve

  tags = var.tags

  depends_on = [aws_eks_node_group.this]
}

################################################################################
# Pod credentials
################################################################################

resource "aws_eks_pod_identity_association" "this" {
  for_each = var.pod_identity_associations

  cluster_name    = aws_eks_cluster.this.name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = each.value.role_arn

  tags = var.tags

  # Credentials are served by the agent; an association without it is a silent no-op for pods.
  depends_on = [aws_eks_addon.before_compute]
}

# IRSA: IAM trusts the cluster's OIDC issuer. No thumbprint: IAM validates EKS issuers against its own
# trusted root CAs, and thumbprint_list is optional in the AWS provider (so no tls provider is needed).
resource "aws_iam_openid_connect_provider" "this" {
  count = var.enable_irsa ? 1 : 0

  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]

  tags = var.tags
}

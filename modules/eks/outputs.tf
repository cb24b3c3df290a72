################################################################################
# What a kubernetes/helm provider configuration needs
################################################################################

output "cluster_name" {
  description = "Name of the EKS cluster (for `aws eks get-token --cluster-name` and `aws eks update-kubeconfig`)."
  value       = aws_eks_cluster.this.name

  # A provider or deployment that uses the name can rely on the add-ons and access being in place.
  depends_on = [
    aws_eks_addon.before_compute,
    aws_eks_addon.this,
    aws_eks_access_policy_association.this,
  ]
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server (the provider's `host`)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded certificate authority of the API server (base64decode it for the provider's `cluster_ca_certificate`)."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = aws_eks_cluster.this.version
}

output "kubernetes_version_end_of_standard_support" {
  description = "Date (YYYY-MM-DD) the configured Kubernetes version leaves EKS standard support, from the module's copy of the EKS release calendar; null for a version the module does not know yet."
  value       = lookup(local.end_of_standard_support, var.kubernetes_version, null)
}

output "cluster_security_group_id" {
  description = "ID of the cluster security group EKS created (attached to the control plane and the managed nodes)."
  value       = try(aws_eks_cluster.this.vpc_config[0].cluster_security_group_id, null)
}

output "cluster_iam_role_arn" {
  description = "ARN of the IAM role the control plane runs with."
  value       = aws_iam_role.cluster.arn
}

################################################################################
# Identity: how pods get AWS credentials
################################################################################

output "cluster_oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster (https://oidc.eks.REGION.amazonaws.com/id/ID)."
  value       = try(aws_eks_cluster.this.identity[0].oidc[0].issuer, null)
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider for IRSA (pass it to the s3-staging module's irsa_oidc_provider_arn); null unless enable_irsa."
  value       = try(aws_iam_openid_connect_provider.this[0].arn, null)
}

output "pod_identity_associations" {
  description = "Pod Identity associations, by key: association ID, namespace, service account and role."
  value = { for key, association in aws_eks_pod_identity_association.this : key => {
    association_id  = association.association_id
    namespace       = association.namespace
    service_account = association.service_account
    role_arn        = association.role_arn
  } }
}

output "access_entry_principal_arns" {
  description = "IAM principals with an access entry, by key (admin-NAME for cluster_admin_role_arns, viewer-NAME for cluster_viewer_role_arns, and the access_entries keys)."
  value       = { for key, entry in aws_eks_access_entry.this : key => entry.principal_arn }
}

output "addon_names" {
  description = "Names of the EKS add-ons installed by the module."
  value       = sort(concat(keys(aws_eks_addon.before_compute), keys(aws_eks_addon.this)))
}

################################################################################
# Nodes, encryption, logs
################################################################################

output "node_iam_role_arn" {
  description = "ARN of the IAM role of the managed nodes; null when node_groups is empty."
  value       = try(aws_iam_role.node[0].arn, null)
}

output "node_groups" {
  description = "Managed node groups, by name: ARN, status and scaling configuration."
  value = { for name, group in aws_eks_node_group.this : name => {
    arn            = group.arn
    status         = group.status
    capacity_type  = group.capacity_type
    instance_types = group.instance_types
    min_size       = group.scaling_config[0].min_size
    max_size       = group.scaling_config[0].max_size
  } }
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts Kubernetes secrets (module-created or the given kms_key_arn)."
  value       = local.kms_key_arn
}

output "cloudwatch_log_group_name" {
  description = "Name of the CloudWatch log group receiving the control-plane logs."
  value       = aws_cloudwatch_log_group.this.name
}

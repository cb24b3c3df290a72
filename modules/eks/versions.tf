terraform {
  # 1.9+ lets a validation block refer to other variables (public endpoint CIDRs, node group sizes,
  # pod identity associations vs the agent add-on); 1.10 is the floor of S3-native state locking.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Written against 5.100 and kept free of what 6.x removed or deprecated (aws_eks_addon's
      # resolve_conflicts, data.aws_region.name, the tls provider for OIDC thumbprints), so both majors work.
      version = ">= 5.100, < 7.0"
    }
  }
}

terraform {
  # set_sensitive (not set_wo) carries the secrets, so Terraform 1.11's write-only attributes are not
  # needed; 1.10 is the floor the repository's roots share (cross-variable validation needs 1.9).
  required_version = ">= 1.10"

  required_providers {
    # 3.x syntax: set / set_sensitive are list attributes, metadata is a single object.
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    # The release namespace with its Pod Security labels (kubernetes_namespace_v1): the same resource in 2.38
    # and 3.x (3.0.0 removed only the deprecated names without _v1), so a consumer on either line can use it.
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.38, < 4.0"
    }
  }
}

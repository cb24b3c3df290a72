"""Schema-only STAND-INS for the hashicorp/helm and hashicorp/kubernetes Terraform providers, for offline machines.

What they are: Terraform plugins (protocol 6, served by the PyPI `tf` package) that answer GetProviderSchema
with the real provider's schema for a pinned version, derived mechanically from a published source, and
ValidateProviderConfig / ValidateResourceConfig / ValidateDataResourceConfig with the checks the provider
itself makes beyond Terraform core (computed-only attributes set, and the validators the schema states
exactly: OneOf, LengthBetween, AtLeast). That is all `terraform init` and `terraform validate` need.
- helm 3.1.1: schemas/helm-3.1.1.json, from terraform-provider-helm's Go source at tag v3.1.1
  (extract_helm_schema.py parses the plugin-framework schema literals).
- kubernetes 2.38.0: schemas/kubernetes-2.38.0.json, from the npm package @cdktf/provider-kubernetes 12.1.1,
  HashiCorp's bindings generated from that version's schema (extract_cdktf_schema.py); the newest such
  bindings, so a root pinning `~> 3.0` finds no stand-in and fails init with Terraform's own message.

What they are not: providers. They never talk to a cluster; ConfigureProvider, PlanResourceChange,
ApplyResourceChange, ReadResource, ReadDataSource and ImportResourceState answer an error diagnostic
saying so. They are installed only where the public registry cannot be reached (harness/terraform.py
decides; TF_PROVIDER_STANDIN=1/0 forces); anywhere else Terraform installs the real providers and the
same commands check against those.

Terraform core checks the configuration against the served schema (the bulk of it): unknown arguments,
blocks where the schema has attributes (helm 3.x's `kubernetes = {}` / `set = [{}]` versus 2.x's blocks;
the reverse for kubernetes' `exec { }`), missing required arguments and blocks, block counts, types,
references to unknown resource types. What they cannot check: anything decided at plan or apply time
(chart rendering, `lint`, cluster reachability), validators comparing attributes (ConflictsWith),
SDKv2 ValidateFunc's of the kubernetes provider (not in the bindings), sensitive flags of kubernetes
attributes (not in the bindings), and write-only attributes (`set_wo`: the `tf` package's protocol
lacks the field, so it is served as an ordinary attribute).
"""

from __future__ import annotations

# The versions the stand-ins impersonate; each has schemas/<name>-<version>.json.
STANDIN_VERSIONS = {"helm": "3.1.1", "kubernetes": "2.38.0"}

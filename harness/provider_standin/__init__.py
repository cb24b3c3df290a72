"""Schema-only STAND-INS for the hashicorp/helm (and hashicorp/kubernetes) Terraform providers, for offline machines.

What it is: a Terraform plugin (protocol 6, served by the PyPI `tf` package) that answers GetProviderSchema
with the real provider's schema for the pinned version, transcribed mechanically from that provider's
published source (see `schemas/*.json`, each naming its source), and ValidateProviderConfig /
ValidateResourceConfig / ValidateDataResourceConfig with the validators that schema states exactly
(OneOf, LengthBetween, AtLeast). That is what `terraform init` and `terraform validate` need.

What it is not: a provider. It never talks to a cluster; PlanResourceChange, ApplyResourceChange,
ReadResource, ReadDataSource and ImportResourceState answer an error diagnostic saying so. It is only
installed where the public registry cannot be reached (harness/terraform.py decides); anywhere else
Terraform installs the real provider and the same commands check against it.

What Terraform itself checks against the served schema (the bulk of it): unknown arguments, blocks
where the schema has attributes (helm 3.x's `kubernetes = {}` / `set = [{}]` versus 2.x's blocks),
missing required arguments, attribute types, references to attributes that do not exist, values set
on computed-only attributes. What it cannot check: anything the real provider decides at plan or apply
time (chart rendering, `lint`, cluster reachability), validators that compare attributes
(ConflictsWith) and write-only attributes (`set_wo`: the `tf` package's protocol lacks the field, so
the stand-in serves it as an ordinary attribute).
"""

from __future__ import annotations

# The versions the stand-ins impersonate; each has schemas/<name>-<version>.json.
STANDIN_VERSIONS = {"helm": "3.1.1"}

################################################################################
# Cluster
################################################################################

variable "cluster_name" {
  description = "Name of the EKS cluster; also the stem of the IAM role, KMS alias and log group names."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be 1-100 characters of letters, digits, hyphens and underscores, starting with a letter or digit."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version (major.minor, such as 1.35) of the control plane (and of the managed node groups). The default is in EKS standard support until 2027-03-27. Upgrade one minor version at a time; after EKS upgraded the cluster by itself, set the version it runs (the plan stops with that version otherwise)."
  type        = string
  default     = "1.35"
  nullable    = false

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a major.minor version such as 1.33 or 1.35 (no patch level, no leading v)."
  }
}

variable "subnet_ids" {
  description = "IDs of existing subnets (at least two, in different Availability Zones) for the control plane's network interfaces; also the node groups' subnets unless a node group sets its own. Private subnets are expected."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two subnets in different Availability Zones: EKS refuses to create a cluster in one."
  }

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids must contain subnet IDs such as subnet-0123456789abcdef0 (IDs, not names or CIDRs)."
  }
}

variable "additional_security_group_ids" {
  description = "IDs of existing security groups to attach to the control plane's network interfaces, in addition to the cluster security group EKS creates."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.additional_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "additional_security_group_ids must contain security group IDs such as sg-0123456789abcdef0."
  }
}

variable "upgrade_support_type" {
  description = "Support policy once the Kubernetes version leaves standard support: STANDARD (EKS upgrades the control plane automatically; no extended-support charges) or EXTENDED (EKS's own default; charged per cluster hour)."
  type        = string
  default     = "STANDARD"
  nullable    = false

  validation {
    condition     = contains(["STANDARD", "EXTENDED"], var.upgrade_support_type)
    error_message = "upgrade_support_type must be STANDARD or EXTENDED."
  }
}

variable "tags" {
  description = "Tags to add to every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "iam_role_permissions_boundary_arn" {
  description = "ARN of an IAM policy to set as permissions boundary on the cluster and node IAM roles, where the account requires one."
  type        = string
  default     = null

  validation {
    condition     = var.iam_role_permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", coalesce(var.iam_role_permissions_boundary_arn, "-")))
    error_message = "iam_role_permissions_boundary_arn must be an IAM policy ARN such as arn:aws:iam::111122223333:policy/boundary."
  }
}

################################################################################
# API server endpoint
################################################################################

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API server on a public endpoint as well as the private one. Off by default: nodes and in-VPC clients always use the private endpoint. When on, only endpoint_public_access_cidrs may reach it."
  type        = bool
  default     = false
  nullable    = false
}

variable "endpoint_public_access_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the public API endpoint (office egress, CI runner egress). Required and non-empty when endpoint_public_access is true; 0.0.0.0/0 is refused unless endpoint_public_access_allow_internet is true."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for cidr in var.endpoint_public_access_cidrs : can(cidrhost(cidr, 0)) && strcontains(cidr, "/")])
    error_message = "endpoint_public_access_cidrs must contain CIDR blocks such as 203.0.113.10/32."
  }

  validation {
    condition     = !var.endpoint_public_access || length(var.endpoint_public_access_cidrs) > 0
    error_message = "endpoint_public_access = true needs the allowed source ranges in endpoint_public_access_cidrs (for example your CI runners' egress, 203.0.113.10/32); an empty list would let EKS open the endpoint to 0.0.0.0/0."
  }

  validation {
    condition     = var.endpoint_public_access_allow_internet || !anytrue([for cidr in var.endpoint_public_access_cidrs : endswith(cidr, "/0")])
    error_message = "endpoint_public_access_cidrs must not contain 0.0.0.0/0 (or any /0): list the source ranges that need the API, or set endpoint_public_access_allow_internet = true as a reviewed exception."
  }
}

variable "endpoint_public_access_allow_internet" {
  description = "Reviewed exception: allow 0.0.0.0/0 in endpoint_public_access_cidrs (for example CI runners without fixed egress addresses). IAM authentication and access entries still guard the API, but the endpoint becomes reachable by anyone."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Authentication and access
################################################################################

variable "authentication_mode" {
  description = "How the cluster authenticates IAM principals: API (access entries only; recommended) or API_AND_CONFIG_MAP (while migrating from the aws-auth ConfigMap). A move towards API is one-way."
  type        = string
  default     = "API"
  nullable    = false

  validation {
    condition     = contains(["API", "API_AND_CONFIG_MAP"], var.authentication_mode)
    error_message = "authentication_mode must be API or API_AND_CONFIG_MAP (CONFIG_MAP alone is the deprecated aws-auth mechanism)."
  }
}

variable "cluster_admin_role_arns" {
  description = "Who administers the cluster (AmazonEKSClusterAdminPolicy, cluster-wide), by a name of your choice: the IAM role the deploying apply runs as (the pipeline's apply role, an engineer's role), so the helm/kubernetes provider of the same apply gets in. Explicit on purpose: the module never grants access to whichever identity happens to run Terraform."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for arn in values(var.cluster_admin_role_arns) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "cluster_admin_role_arns values must be IAM role (or user) ARNs such as { apply = \"arn:aws:iam::111122223333:role/gitlab-apply\" }: the role your apply job assumes, not its session ARN (arn:aws:sts::...:assumed-role/...)."
  }

  # EKS's bootstrap admin is off (main.tf), so without an admin here or in access_entries nobody can enter.
  validation {
    condition = length(var.cluster_admin_role_arns) > 0 || anytrue(flatten([for entry in values(var.access_entries) : [
      for association in values(entry.policy_associations) :
      endswith(association.policy_arn, "/AmazonEKSClusterAdminPolicy") && association.access_scope.type == "cluster"
    ]]))
    error_message = "The cluster would have no administrator: nobody could enter it, not even the helm provider of the apply that creates it. Set cluster_admin_role_arns = { apply = \"arn:aws:iam::111122223333:role/gitlab-apply\" } to the IAM role your apply runs as (and your own), or give an access_entries entry AmazonEKSClusterAdminPolicy cluster-wide."
  }
}

variable "cluster_viewer_role_arns" {
  description = "Who may read the cluster without changing it (AmazonEKSAdminViewPolicy, cluster-wide, Secrets included), by a name of your choice: typically the pipeline's plan role, whose helm provider reads the release Helm keeps in a Secret."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for arn in values(var.cluster_viewer_role_arns) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "cluster_viewer_role_arns values must be IAM role (or user) ARNs such as { plan = \"arn:aws:iam::111122223333:role/gitlab-plan\" }: the role your plan job assumes, not its session ARN (arn:aws:sts::...:assumed-role/...)."
  }

  validation {
    condition     = length(setintersection(values(var.cluster_viewer_role_arns), values(var.cluster_admin_role_arns))) == 0
    error_message = "A principal can have only one access entry: remove from cluster_viewer_role_arns the roles already in cluster_admin_role_arns."
  }
}

variable "access_entries" {
  description = "Access entries to create, keyed by a name of your choice: the IAM principal, optional Kubernetes groups/user name, and EKS access policies to associate (cluster-wide or limited to namespaces)."
  type = map(object({
    principal_arn     = string
    type              = optional(string, "STANDARD")
    kubernetes_groups = optional(list(string))
    user_name         = optional(string)
    policy_associations = optional(map(object({
      policy_arn = string
      access_scope = optional(object({
        type       = optional(string, "cluster")
        namespaces = optional(list(string))
      }), {})
    })), {})
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for entry in values(var.access_entries) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", entry.principal_arn))])
    error_message = "Each access_entries principal_arn must be an IAM role or user ARN such as arn:aws:iam::111122223333:role/platform-admins (not an assumed-role session ARN)."
  }

  validation {
    condition     = alltrue([for entry in values(var.access_entries) : contains(["STANDARD", "EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX"], entry.type)])
    error_message = "Each access_entries type must be one of STANDARD, EC2, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX or HYBRID_LINUX."
  }

  validation {
    condition = alltrue(flatten([for entry in values(var.access_entries) : [
      for association in values(entry.policy_associations) :
      can(regex("^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$", association.policy_arn))
    ]]))
    error_message = "Each access_entries policy_associations policy_arn must be an EKS access policy ARN such as arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy."
  }

  validation {
    condition = alltrue(flatten([for entry in values(var.access_entries) : [
      for association in values(entry.policy_associations) :
      association.access_scope.type == "cluster" || (association.access_scope.type == "namespace" && length(coalesce(association.access_scope.namespaces, [])) > 0)
    ]]))
    error_message = "Each access_entries access_scope must be {type = \"cluster\"} or {type = \"namespace\", namespaces = [\"...\"]} with at least one namespace."
  }
}

################################################################################
# Secrets encryption and control-plane logs
################################################################################

variable "kms_key_arn" {
  description = "ARN of an existing KMS key to envelope-encrypt Kubernetes secrets with. Null creates a dedicated key with rotation enabled (also used for the control-plane log group). A given key's policy must let this account's IAM grant its use."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.kms_key_arn, "-")))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (not a key ID or alias)."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the module-created KMS key is deleted after destroy (7-30 days); during it the key can be recovered and secrets decrypted."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30 && floor(var.kms_key_deletion_window_in_days) == var.kms_key_deletion_window_in_days
    error_message = "kms_key_deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "enabled_log_types" {
  description = "Control-plane log types to send to CloudWatch Logs. All five by default: audit and authenticator logs are what an incident review needs."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  nullable    = false

  validation {
    condition     = alltrue([for type in var.enabled_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], type)])
    error_message = "enabled_log_types may only contain api, audit, authenticator, controllerManager and scheduler (mind the camel case)."
  }
}

variable "cloudwatch_log_group_retention_in_days" {
  description = "Days to keep control-plane logs. One of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_log_group_retention_in_days)
    error_message = "cloudwatch_log_group_retention_in_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "cloudwatch_log_group_kms_key_arn" {
  description = "ARN of a KMS key to encrypt the control-plane log group with. Null uses the module-created key when the module creates one, otherwise CloudWatch Logs' default encryption. A given key's policy must allow the regional CloudWatch Logs service principal (logs.REGION.amazonaws.com)."
  type        = string
  default     = null

  validation {
    condition     = var.cloudwatch_log_group_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.cloudwatch_log_group_kms_key_arn, "-")))
    error_message = "cloudwatch_log_group_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

################################################################################
# Pod credentials: EKS Pod Identity and IRSA
################################################################################

variable "addons" {
  description = "EKS add-ons to install, keyed by add-on name. The default installs the networking add-ons (vpc-cni with NetworkPolicy enforcement on) and the Pod Identity agent before the node groups (before_compute), CoreDNS and metrics-server (what a HorizontalPodAutoscaler reads) after them. Null addon_version lets EKS pick the default version for the cluster. An empty map installs none."
  type = map(object({
    addon_version               = optional(string)
    configuration_values        = optional(string)
    before_compute              = optional(bool, false)
    resolve_conflicts_on_create = optional(string, "OVERWRITE")
    resolve_conflicts_on_update = optional(string, "OVERWRITE")
    service_account_role_arn    = optional(string)
    preserve                    = optional(bool, false)
  }))
  default = {
    # Without enableNetworkPolicy the VPC CNI accepts NetworkPolicy objects and enforces none of them.
    "vpc-cni"                = { before_compute = true, configuration_values = "{\"enableNetworkPolicy\":\"true\"}" }
    "kube-proxy"             = { before_compute = true }
    "eks-pod-identity-agent" = { before_compute = true }
    "coredns"                = {}
    # A community add-on (kube-system); without it HPA targets stay <unknown> and nothing scales.
    "metrics-server" = {}
  }
  nullable = false

  validation {
    condition = alltrue([for addon in values(var.addons) :
      contains(["NONE", "OVERWRITE"], addon.resolve_conflicts_on_create) && contains(["NONE", "OVERWRITE", "PRESERVE"], addon.resolve_conflicts_on_update)
    ])
    error_message = "addons resolve_conflicts_on_create must be NONE or OVERWRITE, and resolve_conflicts_on_update NONE, OVERWRITE or PRESERVE."
  }

  validation {
    condition     = alltrue([for addon in values(var.addons) : addon.configuration_values == null || can(jsondecode(addon.configuration_values))])
    error_message = "addons configuration_values must be a JSON document (use jsonencode({...}))."
  }
}

variable "pod_identity_associations" {
  description = "EKS Pod Identity associations, keyed by a name of your choice: the IAM role (trusting pods.eks.amazonaws.com) that pods running as namespace/service_account receive credentials for. Needs the eks-pod-identity-agent add-on."
  type = map(object({
    namespace       = string
    service_account = string
    role_arn        = string
  }))
  default  = {}
  nullable = false

  validation {
    condition = alltrue([for association in values(var.pod_identity_associations) :
      can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", association.namespace)) && can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", association.service_account))
    ])
    error_message = "Each pod_identity_associations namespace must be a Kubernetes namespace name and service_account a service account name (lower-case letters, digits, hyphens; dots allowed in service accounts)."
  }

  validation {
    condition     = alltrue([for association in values(var.pod_identity_associations) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", association.role_arn))])
    error_message = "Each pod_identity_associations role_arn must be an IAM role ARN such as arn:aws:iam::111122223333:role/mirror-service (for example the s3-staging module's service_role_arn)."
  }

  validation {
    condition     = length(var.pod_identity_associations) == 0 || contains(keys(var.addons), "eks-pod-identity-agent")
    error_message = "pod_identity_associations need the eks-pod-identity-agent add-on on the nodes: keep \"eks-pod-identity-agent\" in addons, or use IRSA (enable_irsa) instead."
  }
}

variable "enable_irsa" {
  description = "Create the IAM OIDC provider for the cluster's issuer so service accounts can assume roles through IRSA (web identity). Pod Identity (pod_identity_associations) is AWS's recommended mechanism and needs no OIDC provider; enable this for workloads or SDKs that need IRSA."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Managed node groups
################################################################################

# Node sizing rule (the defaults here and in envs/aws follow it): the nodes at min_size must hold a rolling
# update of the service at its default replica count, i.e. (replicas + maxSurge) pods at their CPU request:
# (2 + 1) x 500m with the chart's defaults (values.yaml: replicaCount 2, maxSurge 1, maxUnavailable 0;
# a 500m request under the 1-CPU limit at which bench/README.md measures a pod's capacity: one gevent
# worker per CPU of the limit). A node offers its allocatable CPU, vCPUs x 1000m minus EKS's kube-reserved (6% of the first
# core, 1% of the second, 0.5% of cores 3-4): 1930m on 2 vCPUs, 3920m on 4, minus the system pods' requests,
# at most 425m on one node (aws-node 25m, kube-proxy 100m, CoreDNS 2 x 100m, metrics-server 100m). So a
# 2-vCPU type (t3.medium, t3.large, m6i.large) holds three such pods: one node fits a rollout, but its pods
# can run at their 1-CPU limits less than two at a time; a 4-vCPU type holds six, and the three pods of a
# rollout get their full limit at once. Hence m6i.xlarge (4 vCPUs, not burstable: the CPU is really there).
variable "node_groups" {
  description = "EKS managed node groups, keyed by node group name. Amazon Linux 2023 AMIs; the desired size is only the initial size (later changes are left to the cluster autoscaler); max_unavailable_percentage null keeps EKS's one-node-at-a-time updates. An empty map creates no nodes. The default instance type fits a rolling update of modules/kubernetes-app's defaults on min_size nodes (the sizing rule above this variable in variables.tf)."
  type = map(object({
    instance_types             = optional(list(string), ["m6i.xlarge"])
    capacity_type              = optional(string, "ON_DEMAND")
    ami_type                   = optional(string, "AL2023_x86_64_STANDARD")
    min_size                   = optional(number, 1)
    max_size                   = optional(number, 3)
    desired_size               = optional(number, 2)
    disk_size                  = optional(number, 20)
    subnet_ids                 = optional(list(string))
    labels                     = optional(map(string), {})
    max_unavailable_percentage = optional(number)
  }))
  default  = { default = {} }
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.node_groups) : can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$", name))])
    error_message = "node_groups keys are node group names: 1-63 letters, digits, hyphens and underscores, starting with a letter or digit."
  }

  validation {
    condition     = alltrue([for group in values(var.node_groups) : group.min_size >= 0 && group.max_size >= 1 && group.min_size <= group.desired_size && group.desired_size <= group.max_size])
    error_message = "Each node group needs 0 <= min_size <= desired_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for group in values(var.node_groups) : contains(["ON_DEMAND", "SPOT"], group.capacity_type)])
    error_message = "Each node group capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    condition     = alltrue([for group in values(var.node_groups) : startswith(group.ami_type, "AL2023_")])
    error_message = "Each node group ami_type must be an Amazon Linux 2023 type such as AL2023_x86_64_STANDARD or AL2023_ARM_64_STANDARD (Amazon Linux 2 AMIs are end of life)."
  }

  validation {
    condition     = alltrue([for group in values(var.node_groups) : length(group.instance_types) > 0 && (group.capacity_type == "SPOT" || length(group.instance_types) == 1)])
    error_message = "Each node group needs at least one instance type; list several only for SPOT capacity (on-demand groups use just the first)."
  }

  validation {
    condition     = alltrue([for group in values(var.node_groups) : group.disk_size >= 20 && (group.max_unavailable_percentage == null || try(group.max_unavailable_percentage >= 1 && group.max_unavailable_percentage <= 100, false))])
    error_message = "Each node group needs disk_size >= 20 (GiB) and, when set, max_unavailable_percentage between 1 and 100."
  }
}

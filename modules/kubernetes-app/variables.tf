# Every input of the module, declared once, in sections (terraform-aws-modules style). values.tf maps them onto
# the chart's values and secrets.tf the secrets onto set_sensitive entries; an input's type and validation live
# here and nowhere else in Terraform. Server settings are the service's (app/mirror_service/config.py).

################################################################################
# Release
# The Helm release and how Terraform waits for it.
################################################################################

variable "release_name" {
  description = "Helm release name; also the name of the Deployment, Service, ConfigMap and ServiceAccount (fullnameOverride)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", var.release_name)) && length(var.release_name) <= 53
    error_message = "release_name must be a DNS label of at most 53 characters (Helm's limit): lower-case letters, digits and '-', starting with a letter, e.g. \"mirror-service\"."
  }
}

variable "namespace" {
  description = "Namespace of the release. Label it `pod-security.kubernetes.io/enforce: restricted` where you create it; the chart satisfies that profile."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a DNS label: at most 63 lower-case letters, digits and '-', e.g. \"mirror\"."
  }
}

variable "create_namespace" {
  description = "Create the namespace, labelled to enforce Pod Security \"restricted\" (false: it must exist, labelled by you)."
  type        = bool
  default     = false
}

variable "environment" {
  description = "`prod` (the default: static AWS keys refused, upload token and >= 2 replicas required) or `dev` (laptop/Minikube: emulator endpoint and static AWS keys allowed, uploads open without a token). Set `dev` explicitly where that is wanted: a consumer who leaves it out gets the safe one."
  type        = string
  default     = "prod"
  nullable    = false

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "atomic" {
  description = "Roll a failed install or upgrade back (implies wait)."
  type        = bool
  default     = true
}

variable "wait" {
  description = "Finish the apply only when every pod is ready."
  type        = bool
  default     = true
}

variable "timeout_seconds" {
  description = "Seconds Helm waits for the release to become ready (covers image pull, startup probe and rollout)."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout_seconds >= 30 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be between 30 and 3600."
  }
}

variable "max_history" {
  description = "Helm revisions kept (each is a Secret in the namespace, holding the values)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_history >= 1 && var.max_history <= 100
    error_message = "max_history must be between 1 and 100 (0, Helm's \"unlimited\", lets release Secrets pile up)."
  }
}

################################################################################
# Image
################################################################################

variable "image_repository" {
  description = "Repository of the service image, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror-service` or `mirror-service` (Minikube)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$", var.image_repository))
    error_message = "image_repository must be an image name without tag or digest, lower case, e.g. \"registry.example.com:5000/team/mirror-service\"."
  }
}

variable "image_tag" {
  description = "Image tag to deploy (also APP_VERSION unless app_version is set)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a Docker tag: 1-128 characters from A-Z a-z 0-9 _ . -, not starting with '.' or '-'."
  }
}

variable "image_digest" {
  description = "Image digest (`sha256:<64 hex>`) to pin the exact image; null pulls by tag."
  type        = string
  default     = null

  validation {
    condition     = var.image_digest == null || can(regex("^sha256:[a-f0-9]{64}$", var.image_digest))
    error_message = "image_digest must look like \"sha256:\" followed by 64 lower-case hex characters (see `docker buildx imagetools inspect`), or be null."
  }
}

variable "image_pull_secrets" {
  description = "Names of existing `kubernetes.io/dockerconfigjson` Secrets in the namespace the pods pull the image with, managed outside Terraform (External Secrets, ...). To have the release create one, pass image_pull_credentials instead."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for name in var.image_pull_secrets : can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", name))])
    error_message = "image_pull_secrets must be Kubernetes Secret names: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit."
  }
}

variable "image_pull_credentials" {
  description = "Credentials of a private registry (e.g. a GitLab deploy token for $CI_REGISTRY_IMAGE): the chart creates a `kubernetes.io/dockerconfigjson` Secret from them in the release, so a fresh cluster pulls the image in the same apply. Null for ECR, which the nodes' IAM role pulls from without a Secret."
  type = object({
    registry = string
    username = string
    password = string
  })
  default   = null
  sensitive = true

  validation {
    condition     = var.image_pull_credentials == null ? true : can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$", var.image_pull_credentials.registry))
    error_message = "image_pull_credentials.registry must be a registry host, optionally with a port, without scheme or path, e.g. \"registry.gitlab.com\"."
  }

  validation {
    # Like the other secrets, these reach Helm as `--set-string` expressions (see upload_token).
    condition     = var.image_pull_credentials == null ? true : alltrue([for value in [var.image_pull_credentials.username, var.image_pull_credentials.password] : can(regex("^[A-Za-z0-9._~+/=@-]{1,512}$", value))])
    error_message = "image_pull_credentials.username and .password must be 1-512 characters from A-Z a-z 0-9 . _ ~ + / = @ - (GitLab deploy tokens and ECR-style tokens are)."
  }
}

################################################################################
# Secrets
# Passed to Helm with set_sensitive only (secrets.tf); never in values, never in outputs. Rules that combine
# them with each other or with environment (like "prod needs >= 2 replicas" for replicas and autoscaling) are
# the chart's, written once in templates/_validate.tpl, whose messages name these inputs too: Terraform hands
# the chart every value, so the chart sees each consumer's.
################################################################################

variable "upload_token" {
  description = "UPLOAD_TOKEN: bearer token POST /api/upload-random requires. Required in prod unless existing_secret_name is set."
  type        = string
  default     = null
  sensitive   = true

  validation {
    # The token reaches Helm as a `--set-string` expression, where ',', a backslash and '{...}' have meaning; this
    # alphabet (base64, base64url, hex) passes through unchanged (tests/chart check the round trip).
    condition     = var.upload_token == null || can(regex("^[A-Za-z0-9._~+/=-]{16,512}$", var.upload_token))
    error_message = "upload_token must be 16-512 characters from A-Z a-z 0-9 . _ ~ + / = - (e.g. `openssl rand -base64 32`)."
  }
}

variable "s3_access_key_id" {
  description = "AWS_ACCESS_KEY_ID for dev only: an S3 emulator's key, or a real key where the cluster has no Pod Identity/IRSA (Minikube against real S3). Refused in prod: on EKS use Pod Identity or IRSA."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.s3_access_key_id == null || can(regex("^[A-Za-z0-9._~+/=-]{1,128}$", var.s3_access_key_id))
    error_message = "s3_access_key_id must be 1-128 characters from A-Z a-z 0-9 . _ ~ + / = -."
  }
}

variable "s3_secret_access_key" {
  description = "AWS_SECRET_ACCESS_KEY belonging to s3_access_key_id (dev only); set both or neither."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.s3_secret_access_key == null || can(regex("^[A-Za-z0-9._~+/=-]{1,256}$", var.s3_secret_access_key))
    error_message = "s3_secret_access_key must be 1-256 characters from A-Z a-z 0-9 . _ ~ + / = -."
  }
}

variable "existing_secret_name" {
  description = "Kubernetes Secret, managed outside Terraform, holding UPLOAD_TOKEN (and AWS_* keys in dev); the inline secret inputs must then be null."
  type        = string
  default     = null

  validation {
    condition     = var.existing_secret_name == null || can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", var.existing_secret_name))
    error_message = "existing_secret_name must be a Kubernetes object name (lower case, digits, '-', '.'), or null."
  }
}

################################################################################
# Service settings
# Rendered into the pods' ConfigMap (names: docs/CONTRACTS.md).
################################################################################

variable "s3_bucket" {
  description = "S3_BUCKET: the staging bucket (modules/s3-staging output bucket_name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.s3_bucket))
    error_message = "s3_bucket must be a valid S3 bucket name: 3-63 characters from a-z 0-9 . -, starting and ending with a letter or digit."
  }
}

variable "s3_region" {
  description = "AWS_REGION of the bucket."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.s3_region))
    error_message = "s3_region must be an AWS region such as \"eu-west-1\"."
  }
}

variable "s3_prefix" {
  description = "S3_PREFIX: key prefix of uploaded objects; must equal modules/s3-staging's object_prefix."
  type        = string
  default     = "uploads/"

  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]{0,511})?$", var.s3_prefix))
    error_message = "s3_prefix must be at most 512 characters from A-Z a-z 0-9 ! _ . * ' ( ) / - and must not start with '/', e.g. \"uploads/\"."
  }
}

variable "s3_endpoint_url" {
  description = "S3_ENDPOINT_URL of an S3 emulator as the pods see it (e.g. `http://host.minikube.internal:5000`); null on real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.s3_endpoint_url == null || can(regex("^https?://[A-Za-z0-9.\\[\\]:-]+(/[^?#\\s]*)?$", var.s3_endpoint_url))
    error_message = "s3_endpoint_url must be an http:// or https:// URL without query or fragment, such as \"http://host.minikube.internal:5000\", or null on real AWS."
  }
}

variable "app_version" {
  description = "APP_VERSION reported by /api/version; null uses image_tag."
  type        = string
  default     = null

  validation {
    condition     = var.app_version == null || can(regex("^[ -~]{1,128}$", var.app_version))
    error_message = "app_version must be 1-128 printable ASCII characters."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the service."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "max_word_length" {
  description = "MAX_WORD_LENGTH: the longest word /api/mirror accepts."
  type        = number
  default     = 1024

  validation {
    condition     = var.max_word_length >= 1 && var.max_word_length <= 1000000 && floor(var.max_word_length) == var.max_word_length
    error_message = "max_word_length must be a whole number from 1 to 1000000."
  }
}

variable "extra_env" {
  description = "Further non-secret environment variables for the service (never secrets: these land in a ConfigMap, the plan and the state)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for name in keys(var.extra_env) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", name))])
    error_message = "extra_env names must be environment variable names: letters, digits and '_', not starting with a digit."
  }

  validation {
    # The names the chart sets itself or reads from its Secret: one list, in the chart's values.schema.json
    # (config.extraEnv.propertyNames), read by values.tf.
    condition     = length(setintersection(keys(var.extra_env), concat(local.reserved_env_names, keys(var.server)))) == 0
    error_message = "extra_env must not set variables the module manages (use the dedicated inputs and server) or secrets (use upload_token / existing_secret_name): ${join(", ", sort(setintersection(keys(var.extra_env), concat(local.reserved_env_names, keys(var.server)))))}."
  }
}

################################################################################
# Server settings
# The service's own, passed through (the chart's `server` values).
################################################################################

variable "server" {
  description = "The service's server (gunicorn) settings, by the environment variable names the service reads (app/README.md, Configuration), e.g. `{ GUNICORN_KEEPALIVE = \"65\", FORWARDED_ALLOW_IPS = \"10.0.0.0/16\" }`. Passed unchanged to the chart's `server` values and on to the pods; the service validates them at start (a bad value: the pods exit with one `configuration error:` line, and `atomic` rolls the release back). Unset: WEB_CONCURRENCY one per CPU of resources.limits.cpu and GUNICORN_WORKER_CONNECTIONS the pod's connection budget shared by them (the chart's sizing helpers), the service's defaults otherwise."
  # One map, not an object listing every setting: the service owns the names, bounds and defaults
  # (app/mirror_service/config.py), so a new setting needs no change here (an object type would also drop
  # an attribute it does not declare, silently).
  type     = map(string)
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.server) : can(regex("^[A-Z][A-Z0-9_]*$", name))])
    error_message = "server takes the service's environment variable names as keys, e.g. { WEB_CONCURRENCY = \"2\", GUNICORN_KEEPALIVE = \"65\" } (app/README.md lists them)."
  }
}

################################################################################
# Workload
################################################################################

variable "replicas" {
  description = "Replicas when autoscaling is off."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 100 && floor(var.replicas) == var.replicas
    error_message = "replicas must be a whole number from 1 to 100."
  }
}

variable "autoscaling" {
  description = "HorizontalPodAutoscaler on CPU utilisation (relative to resources.requests.cpu). Off by default: it needs the resource metrics API (metrics-server, e.g. the EKS `metrics-server` add-on), without which its targets stay `<unknown>` and it never scales. When enabled the Deployment leaves replicas to the HPA."
  type = object({
    enabled                           = optional(bool, false)
    min_replicas                      = optional(number, 2)
    max_replicas                      = optional(number, 6)
    target_cpu_utilization_percentage = optional(number, 70)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.autoscaling.min_replicas >= 1 && var.autoscaling.min_replicas <= var.autoscaling.max_replicas && var.autoscaling.max_replicas <= 100
    error_message = "autoscaling needs 1 <= min_replicas <= max_replicas <= 100."
  }

  validation {
    condition     = var.autoscaling.target_cpu_utilization_percentage >= 1 && var.autoscaling.target_cpu_utilization_percentage <= 100
    error_message = "autoscaling.target_cpu_utilization_percentage must be between 1 and 100."
  }
}

variable "resources" {
  description = "CPU/memory requests and limits of the service container (Kubernetes quantities)."
  type = object({
    requests = object({ cpu = string, memory = string })
    limits   = object({ cpu = string, memory = string })
  })
  default = {
    # The request equals the limit: the HPA's target is relative to the request, and one pod's capacity
    # is measured at 1 CPU (bench/capacity.py).
    requests = { cpu = "500m", memory = "256Mi" }
    limits   = { cpu = "1000m", memory = "512Mi" }
  }

  validation {
    condition = alltrue([
      for quantity in [var.resources.requests.cpu, var.resources.requests.memory, var.resources.limits.cpu, var.resources.limits.memory] :
      can(regex("^[0-9]+(\\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$", quantity))
    ])
    error_message = "resources must use Kubernetes quantities such as \"250m\", \"1\", \"256Mi\"."
  }
}

variable "pdb" {
  description = "PodDisruptionBudget: max_unavailable or min_available (a count such as \"1\" or a percentage such as \"50%\"), not both; neither means max_unavailable = \"1\"."
  type = object({
    enabled         = optional(bool, true)
    max_unavailable = optional(string)
    min_available   = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.pdb.max_unavailable == null || var.pdb.min_available == null
    error_message = "pdb takes max_unavailable or min_available, not both."
  }

  validation {
    condition     = alltrue([for value in [var.pdb.max_unavailable, var.pdb.min_available] : value == null || can(regex("^[0-9]{1,3}%?$", value))])
    error_message = "pdb.max_unavailable and pdb.min_available must be a count (\"1\") or a percentage (\"50%\")."
  }
}

variable "topology_spread_when_unsatisfiable" {
  description = "Spread of pods across nodes and zones: ScheduleAnyway (prefer) or DoNotSchedule (require)."
  type        = string
  default     = "ScheduleAnyway"

  validation {
    condition     = contains(["ScheduleAnyway", "DoNotSchedule"], var.topology_spread_when_unsatisfiable)
    error_message = "topology_spread_when_unsatisfiable must be \"ScheduleAnyway\" or \"DoNotSchedule\"."
  }
}

variable "pre_stop_seconds" {
  description = "Seconds a terminating pod keeps serving (preStop sleep) so endpoint removal reaches every proxy before gunicorn stops accepting."
  type        = number
  default     = 5

  validation {
    condition     = var.pre_stop_seconds >= 1 && var.pre_stop_seconds <= 120 && floor(var.pre_stop_seconds) == var.pre_stop_seconds
    error_message = "pre_stop_seconds must be a whole number of seconds from 1 to 120."
  }
}

variable "pod_annotations" {
  description = "Extra pod annotations (the module adds checksum/chart itself)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Service account
# AWS access on EKS: a Pod Identity association, or IRSA.
################################################################################

variable "create_service_account" {
  description = "Create the ServiceAccount; false uses an existing one named service_account_name."
  type        = bool
  default     = true
}

variable "service_account_name" {
  description = "ServiceAccount of the pods; null means the release name. With EKS Pod Identity, the association must name this account."
  type        = string
  default     = null

  validation {
    condition     = var.service_account_name == null || can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", var.service_account_name))
    error_message = "service_account_name must be a DNS subdomain name (lower case, digits, '-', '.'), or null for the release name."
  }
}

variable "service_account_role_arn" {
  description = "IAM role for IRSA (annotation eks.amazonaws.com/role-arn). Null with EKS Pod Identity, which needs no annotation."
  type        = string
  default     = null

  validation {
    condition     = var.service_account_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$", var.service_account_role_arn))
    error_message = "service_account_role_arn must be an IAM role ARN such as \"arn:aws:iam::123456789012:role/mirror-service\" (modules/s3-staging output service_role_arn), or null with Pod Identity."
  }
}

################################################################################
# Traffic
################################################################################

variable "ingress" {
  description = "Optional Ingress (networking.k8s.io/v1) on the Service's port 80. With class_name \"alb\" (AWS Load Balancer Controller) the chart targets the pods by IP (the Service is ClusterIP), health-checks /api/ready, uses `scheme`, and serves HTTPS with `certificate_arn` (an ACM certificate; HTTP then redirects). Other controllers terminate TLS with the Secret named by tls_secret_name. Ingress-NGINX is retired: prefer http_route where a Gateway exists."
  type = object({
    enabled         = optional(bool, false)
    class_name      = optional(string, "")
    host            = optional(string)
    path            = optional(string, "/api")
    scheme          = optional(string, "internal")
    certificate_arn = optional(string)
    tls_secret_name = optional(string)
    annotations     = optional(map(string), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.ingress.enabled || (var.ingress.host != null && can(regex("^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", coalesce(var.ingress.host, "-"))))
    error_message = "ingress.enabled needs ingress.host, a lower-case DNS name such as \"mirror.example.com\"."
  }

  validation {
    condition     = startswith(var.ingress.path, "/")
    error_message = "ingress.path must start with '/'."
  }

  # A Prefix path of "/" (or "/metrics") routes GET /metrics to anyone who reaches the Ingress: the request
  # counts and latencies are for Prometheus, which scrapes the Service inside the cluster.
  validation {
    condition     = !contains(["/", "/metrics", "/metrics/"], var.ingress.path)
    error_message = "ingress.path \"/\" (or \"/metrics\") would publish /metrics outside the cluster: use \"/api\", the prefix of every API endpoint (Prometheus scrapes the Service directly)."
  }

  validation {
    # The AWS Load Balancer Controller's own default is internal; asking for it keeps the exposure a decision.
    condition     = contains(["internal", "internet-facing"], var.ingress.scheme)
    error_message = "ingress.scheme must be \"internal\" (reachable inside the VPC only) or \"internet-facing\" (public ALB)."
  }

  validation {
    condition     = var.ingress.certificate_arn == null || (var.ingress.class_name == "alb" && can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", coalesce(var.ingress.certificate_arn, "-"))))
    error_message = "ingress.certificate_arn must be an ACM certificate ARN such as \"arn:aws:acm:eu-west-1:123456789012:certificate/<id>\", and needs ingress.class_name = \"alb\" (other controllers take tls_secret_name)."
  }

  validation {
    condition     = var.ingress.tls_secret_name == null || var.ingress.class_name != "alb"
    error_message = "ingress.tls_secret_name does not give an ALB a certificate: with class_name \"alb\" set ingress.certificate_arn (ACM) instead."
  }
}

variable "http_route" {
  description = "Optional Gateway API HTTPRoute (gateway.networking.k8s.io/v1) to the Service's port 80; needs the Gateway API CRDs and a Gateway."
  type = object({
    enabled = optional(bool, false)
    parent_refs = optional(list(object({
      name         = string
      namespace    = optional(string)
      section_name = optional(string)
    })), [])
    hostnames = optional(list(string), [])
    path      = optional(string, "/")
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.http_route.enabled || length(var.http_route.parent_refs) > 0
    error_message = "http_route.enabled needs at least one entry in http_route.parent_refs (the Gateway to attach to, e.g. { name = \"public\", namespace = \"gateway-system\" })."
  }

  validation {
    condition     = startswith(var.http_route.path, "/")
    error_message = "http_route.path must start with '/'."
  }
}

variable "network_policy" {
  description = "NetworkPolicy of the pods: ingress to port 4545 (from anywhere, or only from labelled namespaces), egress to DNS, HTTPS, the Pod Identity agent and the S3 emulator's port when s3_endpoint_url is set."
  type = object({
    enabled                  = optional(bool, true)
    allow_external           = optional(bool, true)
    ingress_namespace_labels = optional(map(string), {})
    https_cidrs              = optional(list(string), ["0.0.0.0/0"])
    pod_identity_agent       = optional(bool, true)
    s3_endpoint_cidr         = optional(string, "0.0.0.0/0")
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for cidr in concat(var.network_policy.https_cidrs, [var.network_policy.s3_endpoint_cidr]) : can(cidrhost(cidr, 0))])
    error_message = "network_policy.https_cidrs and network_policy.s3_endpoint_cidr must be CIDR blocks such as \"10.0.0.0/8\"."
  }
}

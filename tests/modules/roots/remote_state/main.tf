# A root whose state lives in the S3 bucket envs/bootstrap creates (partial backend configuration:
# the settings come from -backend-config). Its only resource holds the state lock for as long as a
# test asks (a local-exec sleep), so a second apply can be shown to be refused.

terraform {
  required_version = ">= 1.10"

  backend "s3" {}
}

variable "generation" {
  description = "Changing it replaces the marker (and runs the sleep again)."
  type        = string
  default     = "1"
}

variable "hold_lock_seconds" {
  description = "Seconds the replacement of the marker takes, with the state lock held."
  type        = number
  default     = 0
}

resource "terraform_data" "marker" {
  input            = var.generation
  triggers_replace = [var.generation]

  provisioner "local-exec" {
    command = "sleep ${var.hold_lock_seconds}"
  }
}

output "generation" {
  description = "Generation recorded in the state."
  value       = terraform_data.marker.output
}

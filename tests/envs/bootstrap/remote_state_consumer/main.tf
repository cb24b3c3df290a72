# A root whose state lives in the S3 bucket envs/bootstrap creates (partial backend configuration:
# the settings come from -backend-config). Its only resource can hold the state lock for as long as a
# test needs: its replacement waits (a local-exec loop) until the file hold_lock_until names exists, so
# a second apply can be shown to be refused however slow the machine is.

terraform {
  required_version = ">= 1.10"

  backend "s3" {}
}

variable "generation" {
  description = "Changing it replaces the marker (and runs the wait again)."
  type        = string
  default     = "1"
}

variable "hold_lock_until" {
  description = "Path of a file the replacement waits for (at most two minutes) with the state lock held; empty for no wait."
  type        = string
  default     = ""
}

resource "terraform_data" "marker" {
  input            = var.generation
  triggers_replace = [var.generation]

  provisioner "local-exec" {
    command = var.hold_lock_until == "" ? "true" : "i=0; while [ ! -e '${var.hold_lock_until}' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; [ -e '${var.hold_lock_until}' ]"
  }
}

output "generation" {
  description = "Generation recorded in the state."
  value       = terraform_data.marker.output
}

# The secret inputs as helm_release set_sensitive entries: the only place they are read. Like values.tf,
# provider-free (tests apply it offline and render the chart with exactly these entries).
#
# Why set_sensitive and not set_wo: with hashicorp/helm 3.1.1, write-only values are dropped from the
# release on any update that does not bump set_wo_revision (terraform-provider-helm#1753, open), so an
# image bump would silently remove UPLOAD_TOKEN. set_sensitive keeps the values out of plan output;
# they are still in state (encrypted S3 backend) and in Helm's release Secret. To keep them out of
# Terraform entirely, create the Secrets elsewhere and pass existing_secret_name / image_pull_secrets.
# Every entry is always present ("" = unset, which the chart ignores), so the list's shape never
# depends on a secret value; type "string" stops Helm from reading a token like "12345" as a number.
# (The variables' alphabets keep `--set` syntax out of the values: no ',', backslash or braces.)

locals {
  image_pull_credentials = var.image_pull_credentials == null ? { registry = "", username = "", password = "" } : var.image_pull_credentials

  secret_values = [
    { name = "secrets.uploadToken", value = var.upload_token == null ? "" : var.upload_token, type = "string" },
    { name = "secrets.awsAccessKeyId", value = var.s3_access_key_id == null ? "" : var.s3_access_key_id, type = "string" },
    { name = "secrets.awsSecretAccessKey", value = var.s3_secret_access_key == null ? "" : var.s3_secret_access_key, type = "string" },
    { name = "secrets.registryServer", value = local.image_pull_credentials.registry, type = "string" },
    { name = "secrets.registryUsername", value = local.image_pull_credentials.username, type = "string" },
    { name = "secrets.registryPassword", value = local.image_pull_credentials.password, type = "string" },
  ]
}

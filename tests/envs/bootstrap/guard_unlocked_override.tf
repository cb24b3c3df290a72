# Copied into a test's private copy of envs/bootstrap only, so the test can destroy its throwaway
# state bucket: as an override file it merges into the guard's lifecycle block and lifts the
# prevent_destroy that protects a real state bucket (envs/bootstrap/main.tf).
resource "terraform_data" "state_bucket_guard" {
  lifecycle {
    prevent_destroy = false
  }
}

terraform {
  # Cross-variable validation needs >= 1.9; 1.10 matches the parent module. No providers at all:
  # this module must plan and apply anywhere, offline, without credentials.
  required_version = ">= 1.10"
}

"""Python tooling shared by `make sandbox`, `make test`, `make e2e` and `make bench`.

Each module has one job: processes (start, wait for and stop local servers), terraform (find the
provider mirror and run Terraform the same way everywhere), sandbox (the `make sandbox` main job),
terraform_docs (the README tables, by terraform-docs), tools (the Go-built tools).
"""

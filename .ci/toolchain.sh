#!/usr/bin/env bash
# Sourced by .ci/run: Terraform and the AWS provider mirror for a build machine that lacks them.
# A machine with both (a workstation, the previous kind of build machine) is left alone. Otherwise the
# archive in ../shared/toolchain (the Terraform CLI and hashicorp/aws as a filesystem mirror, exactly what
# the previous machines carried) is unpacked once into a cache outside the clone, after its own sum and the
# sums of every file in it are checked, and PATH and TF_PROVIDER_MIRROR point at it. A normal machine with
# internet gets both from HashiCorp instead (README, "Two commands").
# Variables: TOOLCHAIN_DIR (default ../shared/toolchain), MIRROR_KIT_CACHE (default ~/.cache/mirror-kit).

toolchain_has_aws_mirror() {
  [ -n "${TF_PROVIDER_MIRROR:-}" ] && return 0
  find / -maxdepth 6 \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \) -prune -o \
    -type d -path '*/registry.terraform.io/hashicorp/aws' -print 2>/dev/null |
    while read -r dir; do compgen -G "${dir}/*/linux_amd64/terraform-provider-aws*" >/dev/null && echo "${dir}"; done |
    grep -q .
}

toolchain_unpack() {
  local source_dir="${TOOLCHAIN_DIR:-$(dirname "${BASH_SOURCE[0]}")/../../shared/toolchain}"
  local cache="${MIRROR_KIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mirror-kit}/toolchain"
  local archive name target
  archive="$(find "${source_dir}" -maxdepth 1 -name 'terraform-*-linux_amd64.tar.xz' -print -quit 2>/dev/null)"
  if [ -z "${archive}" ]; then
    echo "toolchain: Terraform or the AWS provider mirror is missing and ${source_dir} holds no archive:" \
      "install Terraform (https://developer.hashicorp.com/terraform/install) with registry access" >&2
    return 1
  fi
  name="$(basename "${archive}" .tar.xz)"
  target="${cache}/${name}"
  if [ ! -f "${target}/.verified" ]; then
    echo "toolchain: unpacking ${name} into ${target}"
    (cd "$(dirname "${archive}")" && sha256sum --check --status SHA256SUMS) || {
      echo "toolchain: ${archive} does not match its SHA256SUMS: refusing it" >&2
      return 1
    }
    rm -rf "${target}.partial" && mkdir -p "${target}.partial"
    tar -xJf "${archive}" -C "${target}.partial"
    (cd "${target}.partial" && sha256sum --check --status SHA256SUMS.contents) || {
      echo "toolchain: the unpacked files do not match SHA256SUMS.contents: refusing them" >&2
      rm -rf "${target}.partial"
      return 1
    }
    touch "${target}.partial/.verified"
    rm -rf "${target}" && mv "${target}.partial" "${target}"
  fi
  if ! command -v terraform >/dev/null; then
    export PATH="${target}/bin:${PATH}"
  fi
  if ! toolchain_has_aws_mirror; then
    export TF_PROVIDER_MIRROR="${target}/plugins"
  fi
  echo "toolchain: terraform $(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')" \
    "from $(command -v terraform); AWS provider mirror ${TF_PROVIDER_MIRROR:-found on this machine}"
}

if ! command -v terraform >/dev/null || ! toolchain_has_aws_mirror; then
  toolchain_unpack
else
  echo "toolchain: terraform and an AWS provider mirror are on this machine; ../shared/toolchain not needed"
fi

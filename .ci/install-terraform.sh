#!/usr/bin/env bash
# Terraform for the pipeline's jobs: skipped when `terraform` is already on PATH (a workstation, the
# suite's gitlab-ci-local runs); otherwise HashiCorp's release archive for TERRAFORM_VERSION, checked
# against SHA256SUMS, whose own signature is checked against HashiCorp's release key, pinned by its
# fingerprint (https://www.hashicorp.com/trust/security: C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F).
# The signature is checked against that key alone: the downloaded key file may hold other keys, and a
# signature by any of them must not count (tests/ci/test_install_terraform.py).
set -euo pipefail

: "${TERRAFORM_VERSION:?set TERRAFORM_VERSION (the pipeline sets it in .gitlab-ci.yml)}"
HASHICORP_FINGERPRINT="C874011F0AB405110D02105534365D9472D7468F"
install_dir="${TERRAFORM_INSTALL_DIR:-/usr/local/bin}"

if command -v terraform >/dev/null; then
  installed="$(terraform version -json | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')"
  echo "terraform ${installed} already on PATH: not installing ${TERRAFORM_VERSION}"
  [ "${installed}" = "${TERRAFORM_VERSION}" ] || echo "warning: the pipeline pins ${TERRAFORM_VERSION}" >&2
  exit 0
fi

missing=""
for tool in curl unzip gpg gpgv git make; do
  command -v "${tool}" >/dev/null || missing="${missing} ${tool}"
done
if [ -n "${missing}" ]; then
  apt-get update -qq
  echo "installing${missing} from Debian"
  apt-get install -y -qq --no-install-recommends ca-certificates curl unzip gnupg git make >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
base="https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}"
archive="terraform_${TERRAFORM_VERSION}_linux_amd64.zip"
sums="terraform_${TERRAFORM_VERSION}_SHA256SUMS"
for file in "${archive}" "${sums}" "${sums}.sig"; do
  curl -fsSL --retry 3 -o "${work}/${file}" "${base}/${file}"
done
curl -fsSL --retry 3 -o "${work}/hashicorp.asc" https://www.hashicorp.com/.well-known/pgp-key.txt

export GNUPGHOME="${work}/gnupg"
mkdir -m 700 "${GNUPGHOME}"
gpg --batch --quiet --import "${work}/hashicorp.asc"
gpg --batch --with-colons --fingerprint | grep -q "^fpr:*${HASHICORP_FINGERPRINT}:" || {
  echo "the downloaded HashiCorp key is not ${HASHICORP_FINGERPRINT}: refusing to trust it" >&2
  exit 1
}
# Only the pinned key (and the subkeys it certified) goes into the keyring gpgv checks against, and the
# signature must be valid and made by that key or one of its subkeys: VALIDSIG's last field is the
# primary key's fingerprint (HashiCorp signs with a subkey).
gpg --batch --quiet --export "${HASHICORP_FINGERPRINT}" > "${work}/pinned.gpg"
if ! gpgv --keyring "${work}/pinned.gpg" --status-fd 3 "${work}/${sums}.sig" "${work}/${sums}" \
    3> "${work}/gpgv.status" 2> "${work}/gpgv.log" ||
  ! awk -v pin="${HASHICORP_FINGERPRINT}" '$1 == "[GNUPG:]" && $2 == "VALIDSIG" && $12 == pin { ok = 1 } END { exit !ok }' \
    "${work}/gpgv.status"; then
  cat "${work}/gpgv.log" >&2
  echo "${sums} is not signed by the pinned key ${HASHICORP_FINGERPRINT}: refusing the release" >&2
  exit 1
fi
(cd "${work}" && sha256sum --check --ignore-missing --status "${sums}")
unzip -o -q "${work}/${archive}" -d "${install_dir}" terraform
"${install_dir}/terraform" version

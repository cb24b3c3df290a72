#!/bin/sh
# The pipeline's build job (and `make image-push`): app/ built with rootless BuildKit and pushed under
# the commit SHA, plus the version on a git tag, so `plan:aws` deploys exactly what was built. POSIX sh:
# the moby/buildkit rootless image has no bash and no make, and runs unprivileged (see README, runners).
set -eu

: "${CI_REGISTRY:?}" "${CI_REGISTRY_IMAGE:?}" "${CI_COMMIT_SHA:?}"
names="${CI_REGISTRY_IMAGE}:${CI_COMMIT_SHA}"
if [ -n "${CI_COMMIT_TAG:-}" ]; then
  names="${names},${CI_REGISTRY_IMAGE}:${CI_COMMIT_TAG}"
fi

# shellcheck source=.ci/registry-login.sh
. "$(dirname "$0")/registry-login.sh"

buildctl-daemonless.sh build \
  --frontend dockerfile.v0 \
  --local context=app --local dockerfile=app \
  --opt build-arg:APP_VERSION="${CI_COMMIT_TAG:-${CI_COMMIT_SHA}}" \
  --output "type=image,\"name=${names}\",push=true"

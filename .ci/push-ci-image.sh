#!/bin/sh
# The pipeline's ci-image job: .ci/Dockerfile built with rootless BuildKit and pushed as
# $CI_REGISTRY_IMAGE/ci:$CI_IMAGE_TAG, the image every other job but `build` runs in. The tag is the
# Dockerfile's SHA-256 (first 16 hex digits): a changed Dockerfile with a stale CI_IMAGE_TAG is refused here
# (and by tests/ci/test_ci_image.py), so a job never runs in an image built from another Dockerfile. The
# registry keeps BuildKit's layer cache beside it (`:buildcache`), so an unchanged Dockerfile costs seconds.
# POSIX sh: the moby/buildkit rootless image has no bash (see push-image.sh and README, runners).
set -eu

: "${CI_REGISTRY:?}" "${CI_REGISTRY_IMAGE:?}" "${CI_IMAGE_TAG:?}"
dockerfile="$(dirname "$0")/Dockerfile"
actual="$(sha256sum "${dockerfile}" | cut -c1-16)"
if [ "${actual}" != "${CI_IMAGE_TAG}" ]; then
  echo "CI_IMAGE_TAG is ${CI_IMAGE_TAG} but .ci/Dockerfile hashes to ${actual}: set CI_IMAGE_TAG: \"${actual}\" in .gitlab-ci.yml" >&2
  exit 1
fi

# shellcheck source=.ci/registry-login.sh
. "$(dirname "$0")/registry-login.sh"

buildctl-daemonless.sh build \
  --frontend dockerfile.v0 \
  --local context="$(dirname "$0")" --local dockerfile="$(dirname "$0")" \
  --import-cache "type=registry,ref=${CI_REGISTRY_IMAGE}/ci:buildcache" \
  --export-cache "type=registry,ref=${CI_REGISTRY_IMAGE}/ci:buildcache,mode=max" \
  --output "type=image,name=${CI_REGISTRY_IMAGE}/ci:${CI_IMAGE_TAG},push=true"

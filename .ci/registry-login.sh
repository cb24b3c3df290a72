#!/bin/sh
# Sourced by push-image.sh and push-ci-image.sh: BuildKit's credentials for the project's registry, from the
# job's own registry token (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD), readable by this user only.
: "${CI_REGISTRY:?}"
mkdir -p "${HOME}/.docker"
auth="$(printf '%s:%s' "${CI_REGISTRY_USER:?}" "${CI_REGISTRY_PASSWORD:?}" | base64 | tr -d '\n')"
umask 077
printf '{"auths":{"%s":{"auth":"%s"}}}' "${CI_REGISTRY}" "${auth}" > "${HOME}/.docker/config.json"

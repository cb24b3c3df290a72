"""The upload token and the emulator's secret key reach the pods through Secrets only: never in a ConfigMap, an
annotation, a pod spec's literal environment, a non-Secret object of the release's manifest, a pod's log or a log
of the node's components."""

from __future__ import annotations

import base64
import json

import yaml

from tests.cluster.conftest import EMULATOR_SECRET, UPLOAD_TOKEN, decoded_secret_values, helm_cli

SECRETS = (UPLOAD_TOKEN, EMULATOR_SECRET)


def _forms(secret: str) -> tuple[str, ...]:
    return secret, base64.b64encode(secret.encode()).decode()


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS for form in _forms(secret) if form in text]


def test_the_secrets_are_in_secrets(cluster, release):
    values = decoded_secret_values(cluster, release.namespace).values()
    for secret in SECRETS:
        assert secret in values, f"{secret[:6]}... is in no Secret of {release.namespace}"


def test_no_configmap_annotation_or_literal_env_carries_them(cluster, release):
    objects = json.loads(cluster.kubectl("get", "configmaps,deployments,replicasets,pods,services,serviceaccounts,"
                                         "networkpolicies,poddisruptionbudgets", "-n", release.namespace,
                                         "-o", "json").stdout)["items"]
    for item in objects:
        where = f"{item['kind']}/{item['metadata']['name']}"
        assert not _leaks(json.dumps(item)), f"{where} carries a secret value"
    secrets = json.loads(cluster.kubectl("get", "secrets", "-n", release.namespace, "-o", "json").stdout)["items"]
    for item in secrets:
        assert not _leaks(json.dumps(item["metadata"].get("annotations") or {})), item["metadata"]["name"]


def test_the_release_manifest_holds_them_only_in_secret_objects(cluster, release):
    manifest = helm_cli(cluster, "get", "manifest", release.name, "--namespace", release.namespace).stdout
    documents = [doc for doc in yaml.safe_load_all(manifest) if doc]
    assert any(doc["kind"] == "Secret" for doc in documents)
    for doc in documents:
        if doc["kind"] != "Secret":
            assert not _leaks(yaml.safe_dump(doc)), f"{doc['kind']}/{doc['metadata']['name']} in the manifest"


def test_no_log_line_carries_them(cluster, release, client_pod):
    # Some traffic first, an upload attempt with the token included, so the logs have something to say.
    client_pod(f"""
import time, urllib.request
time.sleep(5)  # kube-router admits a new pod's address within a few seconds
for path in ("/api/health", "/api/mirror?word=abc"):
    urllib.request.urlopen("http://{release.fullname}" + path, timeout=5).read()
request = urllib.request.Request("http://{release.fullname}/api/upload-random", method="POST",
                                 headers={{"Authorization": "Bearer {UPLOAD_TOKEN}"}})
print(urllib.request.urlopen(request, timeout=10).status)
""")
    logs = cluster.kubectl("logs", "-n", release.namespace, "-l", release.selector, "--all-containers",
                           "--prefix", "--tail=-1").stdout
    assert logs.strip(), "the service pods logged nothing"
    assert not _leaks(logs), "a service log line carries a secret"
    for component in sorted(cluster.logs.glob("*.log")):
        assert not _leaks(component.read_text(errors="replace")), f"{component.name} carries a secret"

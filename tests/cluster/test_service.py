"""The service answers through its Service: from this host through the API server's port-forward, and from a
pod through kube-proxy's ClusterIP (by name, through CoreDNS); an upload lands in the emulator the pod reaches
on the node."""

from __future__ import annotations

import json
import urllib.request

import boto3

from harness import kube
from tests.cluster.conftest import EMULATOR_KEY_ID, EMULATOR_SECRET, UPLOAD_TOKEN

# By name (CoreDNS), to the ClusterIP (kube-proxy); retried while kube-router admits the new pod's address.
FROM_POD = """
import json, time, urllib.request
base, deadline = "http://{service}", time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(base + "/api/health", timeout=5) as r:
            print("health", r.status)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
with urllib.request.urlopen(base + "/api/mirror?word=fOoBar25", timeout=5) as r:
    print("mirror", r.status, json.load(r)["transformed"])
"""


def test_health_and_mirror_through_a_port_forward(api, release):
    with kube.PortForward.to_service(api, release.namespace, release.fullname) as forward:
        with urllib.request.urlopen(f"{forward.url}/api/health", timeout=10) as response:  # noqa: S310
            assert response.status == 200
        with urllib.request.urlopen(f"{forward.url}/api/mirror?word=fOoBar25", timeout=10) as response:  # noqa: S310
            assert json.load(response)["transformed"] == "52RAbOoF"


def test_health_and_mirror_from_a_pod_through_kube_proxy(release, client_pod):
    phase, logs = client_pod(FROM_POD.format(service=release.fullname))
    assert phase == "Succeeded", logs
    assert "health 200" in logs and "mirror 200 52RAbOoF" in logs


def test_an_upload_through_the_service_reaches_the_emulator(api, release, s3):
    with kube.PortForward.to_service(api, release.namespace, release.fullname) as forward:
        request = urllib.request.Request(f"{forward.url}/api/upload-random", method="POST",
                                         headers={"Authorization": f"Bearer {UPLOAD_TOKEN}"})
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            assert response.status == 201
            stored = json.load(response)
    body = boto3.client("s3", endpoint_url=s3["url"], region_name="us-east-1", aws_access_key_id=EMULATOR_KEY_ID,
                        aws_secret_access_key=EMULATOR_SECRET).get_object(Bucket=s3["bucket"], Key=stored["key"])
    assert body["Body"].read().decode().strip() == str(stored["value"])

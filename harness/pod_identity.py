"""EKS Pod Identity, stood in for on the single-node cluster: what lets envs/aws's pods reach S3 with no key.

A stand-in, named so: EKS's own pieces (the `eks-pod-identity-agent` add-on and the control plane's mutating
webhook) run only on EKS. This gives the node the same two contracts, so envs/aws's release runs unchanged:

- the webhook: a pod created with the associated service account gets exactly what EKS injects, checked
  against aws/amazon-eks-pod-identity-webhook (pkg/handler: the `eks-pod-identity-token` projected volume,
  audience `pods.eks.amazonaws.com`, mounted at /var/run/secrets/pods.eks.amazonaws.com/serviceaccount) and
  AWS's "EKS Pod Identity" user guide (AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE); a real MutatingWebhookConfiguration the real API server calls.
  The one addition, for the emulator only: AWS_ENDPOINT_URL_S3, which the AWS SDKs read when no endpoint is
  configured, pointing at moto on the node's port 443 (inside the chart's HTTPS egress rule, as S3 is).
- the agent: http://169.254.170.23/v1/credentials on the node, answering the token file's content (sent as the
  Authorization header, botocore.utils.ContainerMetadataFetcher) with credentials only if the API server's
  TokenReview says it is a live token of the associated service account for that audience, as the agent's
  AssumeRoleForPodIdentity call checks. The credentials are the emulator's, not a role's session.

What it cannot show: that AWS's agent, webhook and EKS Auth API do what their documentation says; that the
association exists (moto has no Pod Identity API); that the role's policy allows what the service does.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import json
import shutil
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from harness import cluster as node
from harness import processes

AGENT_IP = "169.254.170.23"  # EKS's documented agent address (IPv4), on the node's own link
AGENT_PORT = 80
CREDENTIALS_URI = f"http://{AGENT_IP}/v1/credentials"
AUDIENCE = "pods.eks.amazonaws.com"
TOKEN_VOLUME = "eks-pod-identity-token"
TOKEN_DIRECTORY = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
TOKEN_SECONDS = 86400
WEBHOOK_NAME = "pod-identity-standin.mirror-kit.test"


def remove_agent_address() -> None:
    """Take the agent's address off the node's link (a killed run's leftover too): harness/cluster.py's `down`."""
    if node.address_present(AGENT_IP):
        subprocess.run(["ip", "addr", "del", f"{AGENT_IP}/32", "dev", node.NODE_LINK], capture_output=True,
                       check=False)


def _json_patch(pod: dict, service_account: str, extra_env: dict[str, str]) -> list[dict]:
    """What EKS's webhook adds to a pod of the associated service account (nothing to any other pod)."""
    spec = pod.get("spec") or {}
    if (spec.get("serviceAccountName") or "default") != service_account:
        return []
    env = [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": CREDENTIALS_URI},
           {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": f"{TOKEN_DIRECTORY}/{TOKEN_VOLUME}"},
           *({"name": name, "value": value} for name, value in extra_env.items())]
    mount = {"name": TOKEN_VOLUME, "mountPath": TOKEN_DIRECTORY, "readOnly": True}
    volume = {"name": TOKEN_VOLUME, "projected": {"sources": [{"serviceAccountToken": {
        "audience": AUDIENCE, "expirationSeconds": TOKEN_SECONDS, "path": TOKEN_VOLUME}}]}}
    patch = []
    for kind in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(kind) or []):
            base = f"/spec/{kind}/{index}"
            patch += ([{"op": "add", "path": f"{base}/env/-", "value": item} for item in env] if container.get("env")
                      else [{"op": "add", "path": f"{base}/env", "value": env}])
            patch.append({"op": "add", "path": f"{base}/volumeMounts/-", "value": mount} if container.get("volumeMounts")
                         else {"op": "add", "path": f"{base}/volumeMounts", "value": [mount]})
    patch.append({"op": "add", "path": "/spec/volumes/-", "value": volume} if spec.get("volumes")
                 else {"op": "add", "path": "/spec/volumes", "value": [volume]})
    return patch


@dataclass
class PodIdentityStandin:
    """`with PodIdentityStandin(cluster, namespace, service_account, credentials, extra_env) as standin:` the
    webhook (for that namespace only) and the agent are live; `standin.served` lists whom the agent answered."""

    cluster: node.Cluster
    namespace: str
    service_account: str
    credentials: dict[str, str]  # AccessKeyId, SecretAccessKey: the emulator's
    extra_env: dict[str, str] = field(default_factory=dict)
    served: list[str] = field(default_factory=list)

    def __enter__(self) -> PodIdentityStandin:
        self._stack = contextlib.ExitStack()
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _start(self) -> None:
        from kubernetes import client

        from harness import kube

        self._api = kube.connect(config_file=str(self.cluster.kubeconfig))
        self._auth = client.AuthenticationV1Api(self._api.api)
        scratch = Path(tempfile.mkdtemp(prefix="pod-identity-"))
        self._stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        pki = node.Pki(scratch)
        pki.make_serving_pair("webhook", "pod-identity-webhook", ips=(node.NODE_IP,))

        subprocess.run(["ip", "addr", "add", f"{AGENT_IP}/32", "dev", node.NODE_LINK], capture_output=True, check=False)
        self._stack.callback(remove_agent_address)
        self._serve((AGENT_IP, AGENT_PORT), self._agent_handler())

        port = processes.free_port(node.NODE_IP)
        webhook = self._serve((node.NODE_IP, port), self._webhook_handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.path("webhook.crt"), pki.path("webhook.key"))
        webhook.socket = context.wrap_socket(webhook.socket, server_side=True)

        configuration = {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_NAME},
            "webhooks": [{
                "name": WEBHOOK_NAME, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "failurePolicy": "Fail", "timeoutSeconds": 10, "reinvocationPolicy": "Never",
                "clientConfig": {"url": f"https://{node.NODE_IP}:{port}/mutate",
                                 "caBundle": base64.b64encode(Path(pki.path("ca.crt")).read_bytes()).decode()},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                           "resources": ["pods"], "scope": "Namespaced"}],
                # this namespace only: nothing else on the node is touched, even if the tests' own pods are there
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}},
            }],
        }
        self.cluster.kubectl("apply", "-f", "-", stdin=json.dumps(configuration))
        self._stack.callback(lambda: self.cluster.kubectl("delete", "mutatingwebhookconfiguration", WEBHOOK_NAME,
                                                          "--ignore-not-found", check=False))

    def _serve(self, address: tuple[str, int], handler) -> http.server.ThreadingHTTPServer:
        server = http.server.ThreadingHTTPServer(address, handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name=f"pod-identity-{address[1]}", daemon=True)
        thread.start()
        self._stack.callback(thread.join, 5)
        self._stack.callback(server.server_close)
        self._stack.callback(server.shutdown)
        return server

    def _reviewed_identity(self, token: str) -> str | None:
        """The service account a token belongs to, if the API server says it is live and for EKS's audience."""
        from kubernetes import client

        review = self._auth.create_token_review(client.V1TokenReview(
            spec=client.V1TokenReviewSpec(token=token, audiences=[AUDIENCE])))
        status = review.status
        if not status.authenticated or AUDIENCE not in (status.audiences or []):
            return None
        return status.user.username

    def _agent_handler(self):
        standin = self
        expected = f"system:serviceaccount:{self.namespace}:{self.service_account}"

        class Agent(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the test's report says whom it answered instead
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                token = self.headers.get("Authorization", "")
                who = standin._reviewed_identity(token) if token and self.path == "/v1/credentials" else None
                if who != expected:
                    self._answer(400 if not token else 403, {"message": "no association for this token"})
                    return
                standin.served.append(who)
                expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
                self._answer(200, {**standin.credentials, "Token": "pod-identity-standin-session",
                                   "AccountId": "123456789012",
                                   "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")})

        return Agent

    def _webhook_handler(self):
        standin = self

        class Webhook(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                request = review["request"]
                patch = _json_patch(request.get("object") or {}, standin.service_account, standin.extra_env)
                response = {"uid": request["uid"], "allowed": True}
                if patch:
                    response |= {"patchType": "JSONPatch",
                                 "patch": base64.b64encode(json.dumps(patch).encode()).decode()}
                data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": response}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Webhook


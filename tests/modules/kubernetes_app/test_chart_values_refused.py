"""Values the chart must refuse, each with the message the user sees.

Field-level rules live in values.schema.json (Helm applies it on install, upgrade, lint and template:
HelmValuesError); rules spanning several values live in templates/_validate.tpl (`fail`: HelmRenderError).
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from harness import helm
from tests.modules.kubernetes_app import rendering

MINIMAL = rendering.ci_value_sets()["minimal"]
LOCAL = rendering.ci_value_sets()["local"]
PROD = rendering.ci_value_sets()["prod"]
TOKEN = "a-valid-upload-token-0123456789"

SCHEMA_REFUSALS = [
    # (why, base, override, fragment of the message)
    ("bucket is required", {}, {}, "at '/s3/bucket'"),
    ("bucket name rules", MINIMAL, {"s3": {"bucket": "My_Bucket"}}, "at '/s3/bucket'"),
    ("unknown top-level key", MINIMAL, {"replicas": 3}, "additional properties 'replicas' not allowed"),
    ("unknown nested key", MINIMAL, {"image": {"name": "x"}}, "additional properties 'name' not allowed"),
    ("environment enum", MINIMAL, {"environment": "staging"}, "at '/environment'"),
    ("replicas minimum", MINIMAL, {"replicaCount": 0}, "at '/replicaCount': minimum"),
    ("replicas type", MINIMAL, {"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
    ("image tag pattern", MINIMAL, {"image": {"tag": "bad tag!"}}, "at '/image/tag'"),
    ("image digest pattern", MINIMAL, {"image": {"digest": "sha256:abc"}}, "at '/image/digest'"),
    ("pull policy enum", MINIMAL, {"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    ("root user", MINIMAL, {"podSecurityContext": {"runAsNonRoot": False}}, "at '/podSecurityContext/runAsNonRoot'"),
    ("uid 0", MINIMAL, {"podSecurityContext": {"runAsUser": 0}}, "at '/podSecurityContext/runAsUser'"),
    ("privilege escalation", MINIMAL, {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
     "at '/containerSecurityContext/allowPrivilegeEscalation'"),
    ("privileged", MINIMAL, {"containerSecurityContext": {"privileged": True}},
     "at '/containerSecurityContext/privileged'"),
    ("capabilities kept", MINIMAL, {"containerSecurityContext": {"capabilities": {"drop": ["NET_RAW"]}}},
     "at '/containerSecurityContext/capabilities/drop'"),
    ("capability added", MINIMAL, {"containerSecurityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
     "at '/containerSecurityContext/capabilities/add/0'"),
    ("seccomp unconfined", MINIMAL, {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}},
     "at '/podSecurityContext/seccompProfile/type'"),
    ("security context removed", MINIMAL, {"containerSecurityContext": {"seccompProfile": None}},
     "missing property 'seccompProfile'"),
    ("limits removed", MINIMAL, {"resources": {"limits": None}}, "missing property 'limits'"),
    # Server settings are the service's to validate (tests/app/test_config.py); the schema types only the three the
    # chart computes with, and keeps names environment variable names.
    ("workers not a number", MINIMAL, {"server": {"WEB_CONCURRENCY": "two"}}, "at '/server/WEB_CONCURRENCY'"),
    ("connections not a number", MINIMAL, {"server": {"GUNICORN_WORKER_CONNECTIONS": -1}},
     "at '/server/GUNICORN_WORKER_CONNECTIONS'"),
    ("server setting not an environment name", MINIMAL, {"server": {"workers": 2}}, "invalid propertyName 'workers'"),
    ("a managed name through extraEnv", MINIMAL, {"config": {"extraEnv": {"TMPDIR": "/var/tmp"}}},
     "invalid propertyName 'TMPDIR'"),
    ("graceful timeout type", MINIMAL, {"server": {"GUNICORN_GRACEFUL_TIMEOUT": "20s"}},
     "at '/server/GUNICORN_GRACEFUL_TIMEOUT'"),
    ("endpoint scheme", MINIMAL, {"s3": {"endpointUrl": "ftp://emulator:5000"}}, "at '/s3/endpointUrl'"),
    ("region pattern", MINIMAL, {"s3": {"region": "Europe"}}, "at '/s3/region'"),
    ("prefix starting with /", MINIMAL, {"s3": {"prefix": "/uploads"}}, "at '/s3/prefix'"),
    ("short upload token", MINIMAL, {"secrets": {"uploadToken": "short"}}, "at '/secrets/uploadToken'"),
    ("secret through extraEnv", MINIMAL, {"config": {"extraEnv": {"UPLOAD_TOKEN": TOKEN}}},
     "invalid propertyName 'UPLOAD_TOKEN'"),
    ("managed variable through extraEnv", MINIMAL, {"config": {"extraEnv": {"S3_BUCKET": "other"}}},
     "invalid propertyName 'S3_BUCKET'"),
    ("log level enum", MINIMAL, {"config": {"logLevel": "VERBOSE"}}, "at '/config/logLevel'"),
    ("container port is the image's", MINIMAL, {"containerPort": 8080}, "at '/containerPort'"),
    ("preStop action enum", MINIMAL, {"shutdown": {"preStopAction": "wait"}}, "at '/shutdown/preStopAction'"),
    ("spread policy enum", MINIMAL, {"topologySpread": {"whenUnsatisfiable": "Never"}},
     "at '/topologySpread/whenUnsatisfiable'"),
    ("PDB eviction policy enum", MINIMAL, {"pdb": {"unhealthyPodEvictionPolicy": "Never"}},
     "at '/pdb/unhealthyPodEvictionPolicy'"),
    ("IRSA role ARN", MINIMAL, {"serviceAccount": {"roleArn": "mirror-role"}}, "at '/serviceAccount/roleArn'"),
    ("service type enum", MINIMAL, {"service": {"type": "ExternalName"}}, "at '/service/type'"),
    ("ALB scheme enum", MINIMAL, {"ingress": {"alb": {"scheme": "public"}}}, "at '/ingress/alb/scheme'"),
    ("ALB certificate is an ACM ARN", MINIMAL, {"ingress": {"alb": {"certificateArn": "mirror-cert"}}},
     "at '/ingress/alb/certificateArn'"),
    ("registry host without scheme", MINIMAL, {"secrets": {"registryServer": "https://registry.gitlab.com"}},
     "at '/secrets/registryServer'"),
    ("HPA target range", MINIMAL, {"autoscaling": {"targetCPUUtilizationPercentage": 150}},
     "at '/autoscaling/targetCPUUtilizationPercentage'"),
]

TEMPLATE_REFUSALS = [
    ("emulator keys in prod", PROD,
     {"secrets": {"existingSecret": "", "uploadToken": TOKEN,
                  "awsAccessKeyId": "local", "awsSecretAccessKey": "local"}},
     "are refused when environment is prod"),
    ("prod without an upload token", PROD, {"secrets": {"existingSecret": ""}},
     "environment prod requires an upload token"),
    ("prod with one replica", PROD, {"autoscaling": {"enabled": False}, "replicaCount": 1}, "at least 2 replicas"),
    ("prod HPA floor", PROD, {"autoscaling": {"minReplicas": 1}}, "autoscaling.minReplicas >= 2"),
    ("half an emulator key pair", LOCAL, {"secrets": {"awsSecretAccessKey": ""}}, "go together"),
    ("existing Secret and inline values", LOCAL, {"secrets": {"existingSecret": "elsewhere"}}, "exclude each other"),
    ("grace period shorter than the drain", MINIMAL, {"shutdown": {"terminationGracePeriodSeconds": 20}},
     "is shorter than preStop (5 s) + server.GUNICORN_GRACEFUL_TIMEOUT (20 s) + shutdown.marginSeconds (5 s) = 30"),
    ("worker class through extraEnv", MINIMAL, {"config": {"extraEnv": {"GUNICORN_WORKER_CLASS": "sync"}}},
     "config.extraEnv sets GUNICORN_WORKER_CLASS, a server setting: set server.GUNICORN_WORKER_CLASS instead."),
    ("forwarders through extraEnv", MINIMAL, {"config": {"extraEnv": {"FORWARDED_ALLOW_IPS": "0.0.0.0/0"}}},
     "config.extraEnv sets FORWARDED_ALLOW_IPS, a server setting"),
    ("both PDB bounds", MINIMAL, {"pdb": {"minAvailable": 1}},
     "pdb.minAvailable and pdb.maxUnavailable exclude each other"),
    ("half the registry credentials", MINIMAL, {"secrets": {"registryServer": "registry.gitlab.com",
                                                              "registryPassword": "a-deploy-token-0123"}},
     "secrets.registryServer, secrets.registryUsername and secrets.registryPassword go together"),
    ("ALB instance targets on a ClusterIP Service", PROD,
     {"ingress": {"annotations": {"alb.ingress.kubernetes.io/target-type": "instance"}}},
     "target-type: instance needs a NodePort or LoadBalancer Service"),
    ("TLS Secret on an ALB", PROD, {"ingress": {"tls": [{"secretName": "mirror-tls", "hosts": ["mirror.example.com"]}]}},
     "ingress.tls gives an ALB no certificate"),
    ("HPA bounds reversed", MINIMAL, {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}},
     "autoscaling.minReplicas (5) is above autoscaling.maxReplicas (3)"),
]


@pytest.mark.parametrize(("why", "base", "override", "message"), SCHEMA_REFUSALS, ids=[c[0] for c in SCHEMA_REFUSALS])
def test_schema_refuses(why, base, override, message):
    with pytest.raises(helm.HelmValuesError) as refused:
        rendering.render(rendering.merged(base, override))
    assert message in str(refused.value), str(refused.value)


@pytest.mark.parametrize(("why", "base", "override", "message"), TEMPLATE_REFUSALS,
                         ids=[c[0] for c in TEMPLATE_REFUSALS])
def test_templates_refuse(why, base, override, message):
    with pytest.raises(helm.HelmRenderError) as refused:
        rendering.render(rendering.merged(base, override))
    assert message in str(refused.value), str(refused.value)


def test_lint_reports_schema_violations_but_not_template_rules():
    """`helm lint` (Helm 4.3's CLI) fails on a schema violation (the helm provider's `lint = true` fails the
    plan on it), but its lint mode turns a template's `fail` into a log line: cross-value rules are enforced
    at render/install time and, for Terraform users, by the module's variable validations at plan time."""
    schema_violation = helm.lint(rendering.merged(MINIMAL, {"replicaCount": 0}), strict=True, kube_version="v1.33.0")
    assert not schema_violation.ok
    assert any("/replicaCount" in error and "minimum" in error for error in schema_violation.errors), \
        schema_violation.output
    without_token = rendering.merged(PROD, {"secrets": {"existingSecret": ""}})
    template_rule = helm.lint(without_token, strict=True, kube_version="v1.33.0")
    assert template_rule.ok and template_rule.errors == [], \
        "lint now evaluates `fail`: make the plan-time claims in the README stronger"


def test_refusals_never_echo_a_secret():
    secrets = {"existingSecret": "", "uploadToken": TOKEN,
               "awsAccessKeyId": "AKIAEXAMPLEKEY", "awsSecretAccessKey": "s3cr3t-key-value",
               "registryServer": "", "registryUsername": "", "registryPassword": "registry-t0ken-value"}
    values = rendering.merged(PROD, {"secrets": secrets})
    with pytest.raises(helm.HelmRenderError) as refused:
        rendering.render(values)
    assert "go together" in str(refused.value), "the half-set registry credential is among the refusals"
    for secret in (TOKEN, "AKIAEXAMPLEKEY", "s3cr3t-key-value", "registry-t0ken-value"):
        assert secret not in str(refused.value)


def _leaves(values: dict, prefix: str = "") -> list[str]:
    """Dotted paths of values.yaml's leaves (a non-empty map is walked into; lists and empty maps are leaves)."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        paths += _leaves(value, f"{path}.") if isinstance(value, dict) and value else [path]
    return paths


def test_every_value_is_documented_and_described_by_the_schema():
    text = (rendering.CHART_DIR / "values.yaml").read_text()
    documented = set(re.findall(r"^\s*## @param (\S+)", text, flags=re.MULTILINE))
    leaves = _leaves(yaml.safe_load(text))
    assert set(leaves) == documented, f"undocumented: {set(leaves) - documented}, stale: {documented - set(leaves)}"
    schema = json.loads((rendering.CHART_DIR / "values.schema.json").read_text())
    for path in leaves:
        node = schema
        for key in path.split("."):
            # A map the schema describes as a whole (server: the service's settings, passed through) covers its keys.
            if key not in node.get("properties", {}) and isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
                continue
            assert key in node.get("properties", {}), f"values.schema.json does not describe {path}"
            node = node["properties"][key]

"""The chart's own `helm test` hook (its smoke-test pod calls the Service by name: CoreDNS, kube-proxy and
the test pod's NetworkPolicy all take part) passes on the node."""

from __future__ import annotations

from tests.cluster.conftest import helm_cli


def test_the_charts_helm_test_hook_passes(cluster, release):
    result = helm_cli(cluster, "test", release.name, "--namespace", release.namespace, "--logs", "--timeout", "120s")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Phase:          Succeeded" in result.stdout
    assert "helm test passed: /api/health ok, /api/mirror?word=fOoBar25 -> 52RAbOoF" in result.stdout

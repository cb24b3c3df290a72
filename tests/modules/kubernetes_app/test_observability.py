"""The chart's monitoring pieces: ServiceMonitor and scrape annotations, PrometheusRule, Grafana dashboard.

Each is off by default. The alerts are tested like code: `promtool test rules` (Prometheus' own tool, built
from its Go module, tools/promtool) runs the rule groups exactly as the chart renders them against synthetic
series that fire and that do not (alerts/rule_tests.yaml). Every PromQL expression of the rules and the
dashboard names only metrics the service exports, or the few of Prometheus and kube-state-metrics listed
in ALLOWED_FOREIGN_METRICS.
"""

from __future__ import annotations

import json
import re
import string
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness import tools
from tests.modules.kubernetes_app import rendering

HERE = Path(__file__).parent
RULE_TESTS = HERE / "alerts" / "rule_tests.yaml"
DASHBOARD_FILE = rendering.CHART_DIR / "dashboards" / "mirror-service.json"
CRD_SCHEMAS = {
    "ServiceMonitor": HERE / "schemas" / "servicemonitor-monitoring-v1.json",
    "PrometheusRule": HERE / "schemas" / "prometheusrule-monitoring-v1.json",
}
# Series the alerts may read that the service does not export. Nothing else: the dashboard and the rules
# must not depend on metrics a cluster may not have.
ALLOWED_FOREIGN_METRICS = {
    # Prometheus itself, per scrape target: 1 when the last scrape of /metrics succeeded (MirrorServiceTargetDown).
    "up",
    # kube-state-metrics: ready (available) and desired replicas of the Deployment (MirrorServiceNoReadyPods,
    # MirrorServiceReplicasNotReady), restarts of the pods' containers (MirrorServicePodRestarting).
    "kube_deployment_status_replicas_available",
    "kube_deployment_spec_replicas",
    "kube_pod_container_status_restarts_total",
}
ALERTS = {"MirrorServiceNoReadyPods", "MirrorServiceReplicasNotReady", "MirrorServiceTargetDown",
          "MirrorServiceHighErrorRatio", "MirrorServiceSlowMirror", "MirrorServiceSlowUploads",
          "MirrorServiceUploadsFailing", "MirrorServicePodRestarting"}


def observed_values(**metrics: dict) -> dict:
    return rendering.merged(rendering.ci_value_sets()["minimal"], {"metrics": metrics})


def dashboard_config_map(manifests: list[dict]) -> dict:
    found = [m for m in rendering.of_kind(manifests, "ConfigMap")
             if (m["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


def alert_rules(manifests: list[dict]) -> list[dict]:
    rule = rendering.only(manifests, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


# ----------------------------------------------------------------------------------------------------
# PromQL: the metric names an expression reads
# ----------------------------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "inf", "nan"}
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[a-zA-Z_]\w*\s*\)\s*$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, aggregations,
    keywords, label names (in matchers and grouping lists), durations or numbers. `__name__` matchers are
    refused, since they would hide a name from this check."""
    assert "__name__" not in expr, f"select metrics by name, not with __name__: {expr}"
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name, call in _IDENTIFIER.findall(text) if not call and name.lower() not in _KEYWORDS}


def test_metric_names_finds_the_selectors_and_nothing_else():
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route!~"x|y{1}", le="+Inf"}[$__rate_interval])))'
            ' / on(job) group_left b offset 5m > bool 1e3 and c_total unless sum without (pod) (d) or vector(0)')
    assert metric_names(expr) == {"a_bucket", "b", "c_total", "d"}
    assert metric_names("up == 0") == {"up"}


def exported_metric_names() -> set[str]:
    """Every sample name the service's own registry exposes, with one request and the uploads' zeros recorded."""
    from prometheus_client import generate_latest

    from mirror_service.observability import Metrics

    metrics = Metrics()
    metrics.observe_request("GET", "/api/mirror", 200, 0.01)
    names = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group()
             for line in generate_latest(metrics.registry).decode().splitlines() if line and not line.startswith("#")}
    assert {"mirror_http_requests_total", "mirror_http_request_duration_seconds_bucket", "mirror_uploads_total"} <= names
    return names


def dashboard_queries(dashboard: dict) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets (rows' nested panels too) and the metric part of
    the template variables' label_values() queries."""
    queries = []
    pending = list(dashboard["panels"])
    while pending:
        panel = pending.pop()
        pending += panel.get("panels", [])
        queries += [target["expr"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        found = _LABEL_VALUES.match(query)
        assert found, f"template variable {variable['name']}: only label_values(<selector>, <label>) is checked"
        queries.append(found.group(1))
    return queries


# ----------------------------------------------------------------------------------------------------
# Off by default, all on in ci/observability-values.yaml
# ----------------------------------------------------------------------------------------------------


def test_every_piece_is_off_by_default():
    manifests = rendering.rendered_ci_sets()["minimal"]
    kinds = {m["kind"] for m in manifests}
    assert not {"ServiceMonitor", "PrometheusRule"} & kinds
    assert not [m for m in rendering.of_kind(manifests, "ConfigMap")
                if "grafana_dashboard" in (m["metadata"].get("labels") or {})]
    annotations = rendering.only(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert not [name for name in annotations if name.startswith("prometheus.io/")]


def test_the_observability_value_set_renders_every_piece_valid_against_the_vendored_crd_schemas():
    manifests = rendering.rendered_ci_sets()["observability"]
    for kind, schema_file in CRD_SCHEMAS.items():
        jsonschema.validate(rendering.only(manifests, kind), json.loads(schema_file.read_text()))
    dashboard = dashboard_config_map(manifests)
    assert json.loads(dashboard["data"]["mirror-service.json"]) == json.loads(DASHBOARD_FILE.read_text())
    annotations = rendering.only(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert {key: annotations[key] for key in annotations if key.startswith("prometheus.io/")} == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "4545", "prometheus.io/path": "/metrics"}


@pytest.mark.parametrize("kind", sorted(CRD_SCHEMAS))
def test_vendored_monitoring_schemas_refuse_unknown_fields(kind):
    manifest = rendering.only(rendering.rendered_ci_sets()["observability"], kind)
    broken = {**manifest, "spec": {**manifest["spec"], "endpoint": []}}
    with pytest.raises(jsonschema.ValidationError, match="endpoint"):
        jsonschema.validate(broken, json.loads(CRD_SCHEMAS[kind].read_text()))


def test_the_service_monitor_scrapes_the_services_http_port_and_the_rules_select_its_job():
    manifests = rendering.rendered_ci_sets()["observability"]
    monitor, service = rendering.only(manifests, "ServiceMonitor"), rendering.only(manifests, "Service")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # No jobLabel: the operator names the job after the Service, which is what the alerts select.
    assert "jobLabel" not in monitor["spec"]
    service_selector = f'job="{service["metadata"]["name"]}"'
    for rule in alert_rules(manifests):
        if metric_names(rule["expr"]) & (exported_metric_names() | {"up"}):
            assert service_selector in rule["expr"], rule["alert"]


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook():
    rules = alert_rules(rendering.rendered_ci_sets()["observability"])
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["labels"]["team"] == "platform", rule["alert"]  # metrics.prometheusRule.alertLabels
        assert {"summary", "description", "runbook", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        assert rule["annotations"]["runbook_url"].endswith("RUNBOOK.md#" + rule["alert"].lower())
    runbook = (rendering.REPO_ROOT / "docs" / "RUNBOOK.md").read_text()
    missing = [alert for alert in sorted(ALERTS) if f"\n## {alert}\n" not in runbook]
    assert not missing, f"docs/RUNBOOK.md has no section (## <alert>) for {missing}"


def test_the_rules_and_the_dashboard_name_only_metrics_the_service_exports():
    exported = exported_metric_names()
    manifests = rendering.rendered_ci_sets()["observability"]
    queries = {f"alert {rule['alert']}": rule["expr"] for rule in alert_rules(manifests)}
    dashboard = json.loads(dashboard_config_map(manifests)["data"]["mirror-service.json"])
    queries.update({f"dashboard query {number}": expr for number, expr in enumerate(dashboard_queries(dashboard))})
    assert len(queries) > len(ALERTS) + 10
    unknown = {where: sorted(metric_names(expr) - exported - ALLOWED_FOREIGN_METRICS) for where, expr in queries.items()}
    unknown = {where: names for where, names in unknown.items() if names}
    assert not unknown, (f"metrics the service does not export (app/mirror_service/observability.py): {unknown}; "
                         f"rename them, or add a Prometheus/kube-state-metrics series to ALLOWED_FOREIGN_METRICS")
    read = set().union(*(metric_names(expr) for expr in queries.values()))
    assert {"mirror_http_requests_total", "mirror_http_request_duration_seconds_bucket",
            "mirror_uploads_total"} <= read


def test_the_dashboard_sits_in_the_release_namespace_unless_told_otherwise():
    """The one object the chart may put elsewhere: Grafana's sidecar may watch only its own namespace."""
    assert dashboard_config_map(rendering.rendered_ci_sets()["observability"])["metadata"]["namespace"] == (
        rendering.NAMESPACE)
    manifests = rendering.render(observed_values(dashboard={"enabled": True, "namespace": "monitoring"}))
    assert dashboard_config_map(manifests)["metadata"]["namespace"] == "monitoring"


# ----------------------------------------------------------------------------------------------------
# promtool
# ----------------------------------------------------------------------------------------------------


def run_promtool(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(tools.path("promtool")), *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_dashboards_queries_are_valid_promql(tmp_path):
    """promtool parses each query as a recording rule's expression (Grafana's $__rate_interval as 5m)."""
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    rules = [{"record": f"dashboard:query{number}", "expr": expr.replace("$__rate_interval", "5m")}
             for number, expr in enumerate(dashboard_queries(dashboard))]
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", "dashboard.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rendered_alerts_pass_promtools_unit_tests(tmp_path):
    """The rule groups as the chart renders them (defaults: no runbook_url, no extra labels), tested on
    synthetic series. Every alert has a case that fires and one that does not."""
    manifests = rendering.render(observed_values(prometheusRule={"enabled": True}))
    rule = rendering.only(manifests, "PrometheusRule")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    checked = run_promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    name = rendering.only(manifests, "Deployment")["metadata"]["name"]
    text = string.Template(RULE_TESTS.read_text()).substitute(
        namespace=rule["metadata"]["namespace"], name=name, pod=f"{name}-5d9f8c7b6-abcde")
    suite = yaml.safe_load(text)
    fixed = {r["alert"]: {key: value for key, value in r["annotations"].items() if "{{" not in value}
             for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}
    fires, stays_quiet = set(), set()
    for case in suite["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else stays_quiet).add(check["alertname"])
            for expected in check["exp_alerts"]:
                expected["exp_annotations"] = {**fixed[check["alertname"]], **expected.get("exp_annotations", {})}
    assert fires == set(fixed) == ALERTS, f"alerts without a firing case: {sorted(set(fixed) - fires)}"
    assert stays_quiet == ALERTS, f"alerts without a quiet case: {sorted(set(fixed) - stays_quiet)}"
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = run_promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

"""The Helm chart renders and validates in every configuration a platform engineer may
choose, and every workload is hardened, probed and sized."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/socialdesk"
HELM = ROOT / ".tools/helm/helm"
VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
K8S = "1.30.0"
CRDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "KafkaTopic": "kafka.strimzi.io/v1beta2",
    "KafkaUser": "kafka.strimzi.io/v1beta2",
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), "helm missing: `make tools` installs it"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=False)


@cache
def render(values: Path) -> list[dict[str, Any]]:
    out = helm("template", "sd", str(CHART), "--namespace", "socialdesk", "-f", str(values))
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job")]


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_lint_passes(values: Path) -> None:
    out = helm("lint", str(CHART), "-f", str(values))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_manifests_validate_against_kubernetes_schemas(values: Path) -> None:
    for doc in render(values):
        if doc["kind"] in CRDS:
            assert doc["apiVersion"] == CRDS[doc["kind"]] and doc["spec"]
            continue
        kubernetes_validate.validate(doc, K8S, strict=True)


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_every_workload_is_hardened(values: Path) -> None:
    for w in workloads(render(values)):
        spec = w["spec"]["template"]["spec"]
        name = w["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, name
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"], name
            for env in c.get("env", []):
                if re.search(r"SECRET|PASSWORD|API_KEY", env["name"]):
                    assert "value" not in env and "secretKeyRef" in env["valueFrom"], env["name"]


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_every_service_is_probed_and_reachable_for_metrics(values: Path) -> None:
    docs = render(values)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["spec"]["template"]["spec"]["containers"][0]["args"][0] for d in deployments} == {
        "ingest",
        "triage",
        "assign",
        "sla",
        "indexer",
        "metrics",
        "notify",
        "console",
        "outbound",
        "media",
    }
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    for d in deployments:
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert d["metadata"]["name"] in services


def test_network_policies_allow_only_what_each_service_needs() -> None:
    docs = render(CHART / "ci/strimzi-eck-values.yaml")
    pols = {
        d["metadata"]["name"].removeprefix("sd-socialdesk-"): d
        for d in docs
        if d["kind"] == "NetworkPolicy"
    }
    assert set(pols) == {
        "ingest",
        "triage",
        "assign",
        "sla",
        "indexer",
        "metrics",
        "notify",
        "console",
        "outbound",
        "media",
    }
    for name, pol in pols.items():
        assert set(pol["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        egress_ports = {p["port"] for rule in pol["spec"]["egress"] for p in rule.get("ports", [])}
        assert 9093 in egress_ports  # Kafka over TLS
        assert 9200 in egress_ports  # every service: the per-author keys (socialdesk.vault)
        from_ingress_controller = len(pol["spec"]["ingress"]) == 2
        assert from_ingress_controller == (name in ("ingest", "console"))


def test_optional_features_are_gated() -> None:
    kinds = lambda v: {d["kind"] for d in render(CHART / f"ci/{v}-values.yaml")}  # noqa: E731
    assert not kinds("default") & {
        "ServiceMonitor",
        "PrometheusRule",
        "HorizontalPodAutoscaler",
        "Ingress",
    }
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds("monitoring")
    assert "HorizontalPodAutoscaler" in kinds("hpa") and "Ingress" in kinds("ingress")
    assert not kinds("minimal") & {"PodDisruptionBudget", "NetworkPolicy", "Job"}


def test_bootstrap_job_runs_before_install_and_upgrade() -> None:
    (job,) = [d for d in render(CHART / "ci/default-values.yaml") if d["kind"] == "Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["bootstrap"]


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("kafka.bootstrapServers=not a broker", "bootstrapServers"),
        ("kafka.securityProtocol=TLS", "securityProtocol"),
        ("elasticsearch.url=es:9200", "url"),
        ("securityContext.allowPrivilegeEscalation=true", "allowPrivilegeEscalation"),
        ("services.triage.replicas=-1", "replicas"),
        ("elasticsearch.authorHistoryDays=0", "authorHistoryDays"),
    ],
)
def test_schema_refuses_bad_values(override: str, complaint: str) -> None:
    out = helm("template", "sd", str(CHART), "--set", override)
    assert out.returncode != 0 and complaint in out.stderr


def test_dashboard_uses_only_exported_metrics() -> None:
    dash = json.loads((CHART / "files/dashboard.json").read_text())
    used = {
        m
        for p in dash["panels"]
        for t in p["targets"]
        for m in re.findall(r"socialdesk_[a-z_]+", t["expr"])
    }
    code = "\n".join(
        p.read_text() for p in [*(ROOT / "core").rglob("*.py"), *(ROOT / "services").rglob("*.py")]
    )
    exported = set(re.findall(r'"(socialdesk_[a-z_]+)"', code))
    allowed = exported | {n + s for n in exported for s in ("_total", "_bucket", "_sum", "_count")}
    assert used and used <= allowed, used - allowed


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def keys(d: dict[str, Any], prefix: str = "") -> list[str]:
        out = []
        for k, v in d.items():
            path = f"{prefix}{k}"
            if isinstance(v, dict) and v and prefix.count(".") < 1 and k != "services":
                out += keys(v, path + ".")
            else:
                out.append(path)
        return out

    missing = [k for k in keys(values) if f"`{k}`" not in readme]
    assert not missing, f"README lacks: {missing}"


def test_ingest_gets_the_platform_webhook_secrets_from_its_secret() -> None:
    docs = render(CHART / "ci" / "strimzi-eck-values.yaml")
    ingest = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-ingest")
    )
    env = {e["name"]: e for e in ingest["spec"]["template"]["spec"]["containers"][0]["env"]}
    wanted = {
        "SOCIALDESK_INGEST_API_KEYS": ("api-keys", None),
        "SOCIALDESK_META_APP_SECRET": ("meta-app-secret", True),
        "SOCIALDESK_META_VERIFY_TOKEN": ("meta-verify-token", True),
        "SOCIALDESK_X_CONSUMER_SECRET": ("x-consumer-secret", True),
        "SOCIALDESK_X_STREAM_BEARER_TOKEN": ("x-stream-bearer-token", True),
    }
    for name, (key, optional) in wanted.items():
        assert "value" not in env[name], name
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "socialdesk-ingest" and ref["key"] == key, name
        assert ref.get("optional") is optional, name
    others = [d for d in docs if d["kind"] == "Deployment" and d is not ingest]
    for d in others:
        names = {e["name"] for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        assert not names & set(wanted), d["metadata"]["name"]


def test_outbound_and_media_alone_get_each_forces_account_secret() -> None:
    """forces.<id>.credentialsSecret: one optional Secret per force, as environment, in
    the outbound pod (replies) and the media pod (attachments behind the account's token)
    only; the console and notify keep just the force keys."""
    docs = render(CHART / "ci" / "strimzi-eck-values.yaml")
    deployments = {
        d["metadata"]["name"].removeprefix("sd-socialdesk-"): d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] == "Deployment"
    }
    media = deployments.pop("media")["containers"][0]["envFrom"]
    outbound = deployments.pop("outbound")["containers"][0]["envFrom"]
    assert media == outbound
    assert outbound == [
        {"secretRef": {"name": "socialdesk-merseyside-accounts", "optional": True}},
        {"secretRef": {"name": "socialdesk-north-wales-accounts", "optional": True}},
    ]
    for name, spec in deployments.items():
        refs = [e["secretRef"]["name"] for e in spec["containers"][0].get("envFrom", [])]
        assert not [r for r in refs if r.endswith("-accounts")], name
        if name in ("console", "notify"):
            assert refs == ["socialdesk-force-keys"], name


def test_indexer_and_triage_agree_on_the_author_history_kept() -> None:
    """The indexer deletes per-author days older than it; triage checks its window
    against the same figure, so both must get it from the one value."""
    docs = render(CHART / "ci" / "strimzi-eck-values.yaml")
    for service in ("indexer", "triage"):
        dep = next(
            d
            for d in docs
            if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(f"-{service}")
        )
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["SOCIALDESK_AUTHOR_HISTORY_DAYS"]["value"] == "8", service

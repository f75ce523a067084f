"""What the chart renders is what the services accept: every ci/*-values.yaml renders,
and every workload's Settings build from the rendered environment and Secrets, so a
setting a service refuses to start without is either set by the chart or refused at
`helm template` time with a message naming the value, never a crash-looping pod."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from socialdesk.objectstore import ObjectStoreSettings
from socialdesk.settings import (
    BaseServiceSettings,
    ConsoleSettings,
    IngestSettings,
    MetricsSettings,
    NotifySettings,
    OutboundSettings,
    TriageSettings,
)
from socialdesk_media.settings import MediaSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/socialdesk"
HELM = ROOT / ".tools/helm/helm"
VALUES = sorted((CHART / "ci").glob("*-values.yaml"))

# What each workload builds at start-up (socialdesk_tools.cli and each service's main()).
SETTINGS: dict[str, type[BaseServiceSettings]] = {
    "bootstrap": BaseServiceSettings,
    "ingest": IngestSettings,
    "triage": TriageSettings,
    "assign": BaseServiceSettings,
    "sla": BaseServiceSettings,
    "indexer": BaseServiceSettings,
    "metrics": MetricsSettings,
    "console": ConsoleSettings,
    "notify": NotifySettings,
    "outbound": OutboundSettings,
    "media": MediaSettings,
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), "helm missing: `make tools` installs it"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=False)


@cache
def render(values: Path, *sets: str) -> list[dict[str, Any]]:
    args = ["template", "sd", str(CHART), "--namespace", "socialdesk", "-f", str(values)]
    for s in sets:
        args += ["--set", s]
    out = helm(*args)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def refusal(*args: str) -> str:
    out = helm("template", "sd", str(CHART), "--namespace", "socialdesk", *args)
    assert out.returncode != 0, "rendered, but should have been refused"
    return out.stderr


def pods(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            spec = d["spec"]["template"]["spec"]
            out.append((spec["containers"][0]["args"][0], spec))
    return out


def secret_value(name: str, key: str) -> str:
    """What the operator put in the Secret, as the chart README tells them to."""
    if key == "api-keys":
        return f"webchat:{'k' * 40}"
    return f"{name}-{key}-" + "s" * 32


def force_keys() -> dict[str, str]:
    """The Secret forceConfig.existingSecret names: one key per variable the forces'
    configuration (the image's config/) names in secret_env."""
    from socialdesk.config import load_config

    config = load_config(ROOT / "config")
    names = [ch.secret_env for ch in config.national.notifications if ch.secret_env]
    for f in config.forces.values():
        names += [ch.secret_env for ch in f.notifications if ch.secret_env]
        if f.control_room is not None:
            names.append(f.control_room.secret_env)
    assert names, "the shipped config names no secret_env: this check checks nothing"
    return {n: f"{n.lower()}-" + "h" * 32 for n in names}


def environment(spec: dict[str, Any], optional_keys_present: bool) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in spec["containers"][0].get("envFrom", []):
        assert set(source) == {"secretRef"}, source
        env.update(force_keys())
    for e in spec["containers"][0].get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        source = e["valueFrom"]
        if "fieldRef" in source:
            env[e["name"]] = "sd-socialdesk-x-5d9f-abcde"
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"], e["name"]
            if ref.get("optional") and not optional_keys_present:
                continue
            env[e["name"]] = secret_value(ref["name"], ref["key"])
        else:
            raise AssertionError(f"unexpected env source {source}")
    return env


def build(cls: type[BaseServiceSettings], env: dict[str, str], mp: pytest.MonkeyPatch) -> Any:
    import os

    for name in list(os.environ):
        if name.startswith("SOCIALDESK_"):
            mp.delenv(name)
    for name, value in env.items():
        mp.setenv(name, value)
    return cls()


def mounted_file(spec: dict[str, Any], path: str) -> bool:
    """The path lies in a volume the pod mounts, and a Secret volume projects that file."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for m in spec["containers"][0].get("volumeMounts", []):
        base = m["mountPath"].rstrip("/") + "/"
        if path.startswith(base):
            vol = volumes[m["name"]]
            items = (vol.get("secret") or vol.get("configMap") or {}).get("items")
            return items is None or path[len(base) :] in {i["path"] for i in items}
    return False


@pytest.mark.parametrize("optional_keys_present", [True, False], ids=["full", "bare"])
@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_every_workload_accepts_what_the_chart_renders(
    values: Path, optional_keys_present: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = set()
    for service, spec in pods(render(values)):
        assert service in SETTINGS, f"no Settings known for workload {service}"
        env = environment(spec, optional_keys_present)
        try:
            settings = build(SETTINGS[service], env, monkeypatch)
        except ValidationError as exc:
            pytest.fail(f"{values.name}: {service} would refuse to start: {exc}")
        seen.add(service)
        assert settings.environment == "production"
        for name, value in env.items():
            if value.startswith("/etc/"):
                assert mounted_file(spec, value), f"{service}: {name}={value} is not mounted"
        if service == "console":
            assert isinstance(settings, ConsoleSettings)
            assert settings.cookie_secure
            assert settings.public_url.startswith("https://")
        if service == "outbound":
            assert isinstance(settings, OutboundSettings)
            assert settings.publisher_mode == "platforms"
        if service in ("console", "notify"):
            # notify reads every key the forces name at start-up (and refuses without
            # one); the console reads the control rooms' keys for each handover.
            from socialdesk.config import load_config
            from socialdesk_notify.flows import secrets

            secrets(load_config(ROOT / "config"), settings.environment)
        if service == "notify":
            assert settings.public_url.startswith("https://")
        if service in ("console", "media"):
            # both reach the object store, whose keys must be real in production
            store = build(ObjectStoreSettings, env, monkeypatch)
            assert store.s3_endpoint_url and store.s3_bucket
    assert {
        "console",
        "ingest",
        "triage",
        "assign",
        "sla",
        "indexer",
        "metrics",
        "notify",
        "outbound",
        "media",
    } <= seen


def test_notify_would_refuse_without_the_forces_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from socialdesk.config import ConfigError, load_config
    from socialdesk_notify.flows import secrets

    docs = render(CHART / "ci/default-values.yaml")
    (spec,) = [spec for service, spec in pods(docs) if service == "notify"]
    assert spec["containers"][0]["envFrom"] == [{"secretRef": {"name": "socialdesk-force-keys"}}]
    env = environment({"containers": [{**spec["containers"][0], "envFrom": []}]}, True)
    settings = build(NotifySettings, env, monkeypatch)
    with pytest.raises(ConfigError, match="secret_env"):
        secrets(load_config(ROOT / "config"), settings.environment)
    assert "forceConfig.existingSecret" in refusal(
        "-f", str(CHART / "ci/default-values.yaml"), "--set", "forceConfig.existingSecret="
    )


def test_notify_reaches_its_smtp_relay_with_credentials_from_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = render(CHART / "ci/strimzi-eck-values.yaml")
    (spec,) = [spec for service, spec in pods(docs) if service == "notify"]
    s = build(NotifySettings, environment(spec, True), monkeypatch)
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("smtp.force.police.uk", 587, True)
    assert s.smtp_username and s.smtp_password is not None
    assert s.callback_url == "https://socialdesk.force.police.uk/control-room/callback"
    (pol,) = [
        d
        for d in docs
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-notify")
    ]
    assert {"ports": [{"port": 587, "protocol": "TCP"}]} in pol["spec"]["egress"]


def test_strimzi_eck_install_reaches_its_brokers_and_index_over_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = render(CHART / "ci/strimzi-eck-values.yaml")
    for service, spec in pods(docs):
        s = build(SETTINGS[service], environment(spec, True), monkeypatch)
        assert s.kafka_security_protocol == "SASL_SSL" and s.kafka_sasl_mechanism
        assert s.kafka_sasl_username and s.kafka_sasl_password, service
        assert str(s.kafka_ssl_cafile) == "/etc/socialdesk/kafka-ca/ca.crt", service
        assert str(s.elasticsearch_ca_certs) == "/etc/socialdesk/es-ca/ca.crt", service
        assert s.elasticsearch_api_key is not None, service
        assert s.topic_prefix == "force1." and s.index_prefix == "force1", service
        if service == "console":
            assert s.oidc_issuer and s.oidc_client_secret is not None
            assert s.public_url == "https://socialdesk.force.police.uk"
        if service == "outbound":
            assert s.x_bearer_token is not None and s.meta_page_token is not None


def test_mutual_tls_client_certificate_reaches_every_workload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = render(
        CHART / "ci/strimzi-eck-values.yaml",
        "kafka.tls.clientSecret=socialdesk-kafka-tls-user",
    )
    for service, spec in pods(docs):
        env = environment(spec, True)
        s = build(SETTINGS[service], env, monkeypatch)
        assert str(s.kafka_ssl_certfile) == "/etc/socialdesk/kafka-client/user.crt", service
        assert str(s.kafka_ssl_keyfile) == "/etc/socialdesk/kafka-client/user.key", service
        assert mounted_file(spec, str(s.kafka_ssl_keyfile)), service


def test_public_url_comes_from_the_ingress_host(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render(CHART / "ci/ingress-values.yaml")
    (spec,) = [spec for service, spec in pods(docs) if service == "console"]
    s = build(ConsoleSettings, environment(spec, True), monkeypatch)
    assert s.public_url == "https://socialdesk.force.police.uk"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        # The chart's own defaults: nothing a production install needs is named.
        ((), "console.existingSecret"),
        (("--set", "console.existingSecret=c"), "console.oidc.issuer"),
        (
            ("-f", str(CHART / "ci/default-values.yaml"), "--set", "ingest.existingSecret="),
            "ingest.existingSecret",
        ),
        (
            ("-f", str(CHART / "ci/strimzi-eck-values.yaml"), "--set", "console.publicUrl="),
            "console.publicUrl",
        ),
        (
            ("-f", str(CHART / "ci/default-values.yaml"), "--set", "console.publicUrl=http://sd"),
            "console.publicUrl must be https://",
        ),
        (
            ("-f", str(CHART / "ci/default-values.yaml"), "--set", "console.oidc.clientId="),
            "console.oidc.clientId",
        ),
        (
            ("-f", str(CHART / "ci/default-values.yaml"), "--set", "console.oidc.existingSecret="),
            "console.oidc.existingSecret",
        ),
        (
            (
                "-f",
                str(CHART / "ci/strimzi-eck-values.yaml"),
                "--set",
                "kafka.sasl.existingSecret=",
            ),
            "kafka.sasl.existingSecret",
        ),
        (
            ("-f", str(CHART / "ci/strimzi-eck-values.yaml"), "--set", "kafka.sasl.mechanism="),
            "kafka.sasl.mechanism",
        ),
        (
            (
                "-f",
                str(CHART / "ci/strimzi-eck-values.yaml"),
                "--set",
                "kafka.securityProtocol=PLAINTEXT",
            ),
            "kafka.securityProtocol",
        ),
        (
            ("-f", str(CHART / "ci/strimzi-eck-values.yaml"), "--set", "elasticsearch.apiKeyKey="),
            "elasticsearch.apiKeyKey",
        ),
        (
            (
                "-f",
                str(CHART / "ci/strimzi-eck-values.yaml"),
                "--set",
                "elasticsearch.url=http://es:9200",
            ),
            "elasticsearch.tls.caSecret",
        ),
    ],
)
def test_production_refusals_fail_the_render_naming_the_value(
    args: tuple[str, ...], named: str
) -> None:
    err = refusal(*args)
    # Our own checks name the value; the schema names its path (/kafka/sasl/existingSecret).
    path = "/" + named.split()[0].replace(".", "/")
    assert named in err or f"at '{path}'" in err, err


def test_what_a_service_refuses_the_chart_refuses_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check this test file exists for: with the public URL left out, the console
    would refuse to start (OIDC in production needs an https:// public URL)."""
    docs = render(
        CHART / "ci/default-values.yaml", "console.publicUrl=https://sd.example.police.uk"
    )
    (spec,) = [spec for service, spec in pods(docs) if service == "console"]
    env = environment(spec, True)
    del env["SOCIALDESK_PUBLIC_URL"]
    with pytest.raises(ValidationError, match="SOCIALDESK_PUBLIC_URL"):
        build(ConsoleSettings, env, monkeypatch)
    assert "console.publicUrl" in refusal(
        "-f", str(CHART / "ci/default-values.yaml"), "--set", "console.publicUrl="
    )


def test_non_production_renders_with_nothing_named() -> None:
    docs = render(CHART / "ci/default-values.yaml", "environment=development")
    assert pods(docs)
    refusal("--set", "environment=production")  # and the same defaults refuse in production
    out = helm("template", "sd", str(CHART), "--set", "environment=development")
    assert out.returncode == 0, out.stderr


def test_hooks_need_no_resource_the_release_creates_later() -> None:
    """pre-install hooks run before the release's own resources exist: the bootstrap Job
    must not wait on the chart's ServiceAccount, ConfigMaps or Secrets."""
    for values in VALUES:
        docs = render(values)
        hooks = [d for d in docs if "helm.sh/hook" in d["metadata"].get("annotations", {})]
        normal = {
            (d["kind"], d["metadata"]["name"])
            for d in docs
            if "helm.sh/hook" not in d["metadata"].get("annotations", {})
        }
        weight = {
            (d["kind"], d["metadata"]["name"]): int(
                d["metadata"]["annotations"].get("helm.sh/hook-weight", "0")
            )
            for d in hooks
        }
        for job in (d for d in hooks if d["kind"] == "Job"):
            spec = job["spec"]["template"]["spec"]
            needs = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
            for v in spec.get("volumes", []):
                if "secret" in v:
                    needs.add(("Secret", v["secret"]["secretName"]))
                if "configMap" in v:
                    needs.add(("ConfigMap", v["configMap"]["name"]))
            for need in needs:
                assert need not in normal, f"{values.name}: hook Job needs {need}"
                if need in weight:
                    assert weight[need] < weight[("Job", job["metadata"]["name"])], need
        if any(d["kind"] == "Job" for d in hooks) and "minimal" not in values.name:
            assert ("ServiceAccount", "sd-socialdesk-bootstrap") in weight, values.name


def test_console_and_ingest_may_reach_the_listed_https_destinations_only() -> None:
    docs = render(CHART / "ci/strimzi-eck-values.yaml")
    for pol in (d for d in docs if d["kind"] == "NetworkPolicy"):
        name = pol["metadata"]["name"].removeprefix("sd-socialdesk-")
        blocks = {
            (to["ipBlock"]["cidr"], p["port"])
            for rule in pol["spec"]["egress"]
            for to in rule.get("to", [])
            if "ipBlock" in to
            for p in rule["ports"]
        }
        if name in ("console", "ingest", "notify", "outbound", "media"):
            assert blocks == {("0.0.0.0/0", 443), ("10.20.0.0/16", 8443)}, name
        else:
            assert not blocks, name


def notes(*args: str) -> str:
    out = helm("install", "sd", str(CHART), "--dry-run=client", "--namespace", "socialdesk", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("NOTES:", 1)[1]


def test_notes_tell_the_truth() -> None:
    full = notes("-f", str(CHART / "ci/strimzi-eck-values.yaml"))
    assert "logs job/" not in full and "get kafkatopics" in full
    assert (
        "Secret socialdesk-kafka-user in\n   kafka; the pods read it in socialdesk: copy it" in full
    )
    assert "https://socialdesk.force.police.uk/auth/callback" in full
    assert "WARNING" not in full
    bare = notes("-f", str(CHART / "ci/default-values.yaml"))
    assert "notify.smtp.host is empty" in bare
    assert "logs job/sd-socialdesk-bootstrap" in bare and "86400 seconds" in bare
    assert "console.replies.existingSecret is empty" in bare
    assert "recorded as undeliverable" in bare
    minimal = notes("-f", str(CHART / "ci/minimal-values.yaml"))
    assert "logs job/" not in minimal and "socialdesk bootstrap" in minimal
    assert "NetworkPolicies are on" not in minimal

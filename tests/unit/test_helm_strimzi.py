"""Optional Strimzi resources: with strimzi.enabled the chart declares every topic of
schemas/topics/ as a KafkaTopic (kept on uninstall) and socialdesk's KafkaUser with the
ACLs its services need, so topics and ACLs are managed the Strimzi way.

The chart cannot read schemas/ (outside the chart), so deploy/helm/socialdesk/files/
topics.yaml carries the registry; a new topic fails test_chart_topics_match_the_registry
until it is regenerated: `.venv/bin/python tests/unit/test_helm_strimzi.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/socialdesk"
HELM = ROOT / ".tools/helm/helm"
TOPICS_FILE = CHART / "files/topics.yaml"


def expected_topics_file() -> str:
    sys.path.insert(0, str(ROOT / "core"))
    from socialdesk.topics import load_topic_specs

    lines = [
        "# Generated from schemas/topics/*.yaml; do not edit. Regenerate with",
        "#   .venv/bin/python tests/unit/test_helm_strimzi.py",
        "topics:",
    ]
    for spec in sorted(load_topic_specs().values(), key=lambda s: s.name):
        config = ", ".join(f"{k}: {json.dumps(v)}" for k, v in spec.config.items())
        lines.append(
            f"  - {{name: {spec.name}, partitions: {spec.partitions}, config: {{{config}}}}}"
        )
    return "\n".join(lines) + "\n"


def render(*sets: str) -> list[dict[str, Any]]:
    args = ["template", "sd", str(CHART), "--namespace", "socialdesk"]
    args += ["-f", str(CHART / "ci/strimzi-eck-values.yaml")]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run([str(HELM), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_chart_topics_match_the_registry() -> None:
    assert TOPICS_FILE.read_text() == expected_topics_file(), (
        "deploy/helm/socialdesk/files/topics.yaml is stale: "
        "run .venv/bin/python tests/unit/test_helm_strimzi.py"
    )


def test_every_topic_is_a_kafka_topic_kept_on_uninstall() -> None:
    from socialdesk.topics import load_topic_specs

    docs = render()
    topics = {d["spec"]["topicName"]: d for d in docs if d["kind"] == "KafkaTopic"}
    specs = load_topic_specs()
    assert set(topics) == {"force1." + name for name in specs}
    for name, spec in specs.items():
        t = topics["force1." + name]
        assert t["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert t["metadata"]["namespace"] == "kafka"
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "socialdesk"
        assert t["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert t["spec"]["partitions"] == spec.partitions
        assert t["spec"]["replicas"] == 3
        config = t["spec"]["config"]
        assert {k: str(v) for k, v in config.items() if k in spec.config} == spec.config
        assert config["min.insync.replicas"] == 2
    # Strimzi owns the topics: no bootstrap Job (the indexer and metrics create the indices)
    assert not [d for d in docs if d["kind"] == "Job"]


def test_the_user_may_do_what_the_services_do_and_no_more() -> None:
    docs = render()
    (user,) = [d for d in docs if d["kind"] == "KafkaUser"]
    assert user["metadata"]["name"] == "socialdesk-kafka-user"
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    acls = {
        (a["resource"]["type"], a["resource"].get("name")): a
        for a in user["spec"]["authorization"]["acls"]
    }
    topic = acls[("topic", "force1.")]
    assert topic["resource"]["patternType"] == "prefix"
    assert set(topic["operations"]) == {"Describe", "DescribeConfigs", "Read", "Write"}
    group = acls[("group", "force1.socialdesk-")]
    assert group["resource"]["patternType"] == "prefix"
    assert set(group["operations"]) == {"Describe", "Read"}
    assert set(acls[("cluster", None)]["operations"]) == {"Describe", "IdempotentWrite"}


def test_mutual_tls_user_and_refusals() -> None:
    docs = render(
        "strimzi.user.authentication=tls",
        "kafka.securityProtocol=SSL",
        "kafka.sasl.mechanism=",
        "kafka.sasl.existingSecret=",
        "kafka.tls.clientSecret=socialdesk-kafka-user",
    )
    (user,) = [d for d in docs if d["kind"] == "KafkaUser"]
    assert user["spec"]["authentication"] == {"type": "tls"}
    out = subprocess.run(
        [
            str(HELM),
            "template",
            "sd",
            str(CHART),
            "-f",
            str(CHART / "ci/strimzi-eck-values.yaml"),
            "--set",
            "strimzi.cluster=",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0 and "strimzi.cluster" in out.stderr
    out = subprocess.run(
        [
            str(HELM),
            "template",
            "sd",
            str(CHART),
            "-f",
            str(CHART / "ci/strimzi-eck-values.yaml"),
            "--set",
            "kafka.sasl.existingSecret=other",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0 and "kafka.sasl.existingSecret" in out.stderr


def test_without_strimzi_nothing_strimzi_is_rendered() -> None:
    docs = render("strimzi.enabled=false")
    assert not {"KafkaTopic", "KafkaUser"} & {d["kind"] for d in docs}
    assert [d for d in docs if d["kind"] == "Job"]


if __name__ == "__main__":
    TOPICS_FILE.write_text(expected_topics_file())
    print(f"wrote {TOPICS_FILE.relative_to(ROOT)}")

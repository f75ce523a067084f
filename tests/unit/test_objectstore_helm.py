"""The chart wires the object store (issue 24: real S3 or MinIO in production via Helm)
into media and console only, its keys from an existing Secret, refuses a production
install without that Secret, and gives media each force's account Secret (a direct
message's attachment is fetched with the account's token)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.unit.test_vault_helm import helm

S3_KEYS = {"SOCIALDESK_S3_ACCESS_KEY_ID", "SOCIALDESK_S3_SECRET_ACCESS_KEY"}


def deployments(*sets: str) -> dict[str, dict[str, Any]]:
    out = helm(*sets)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Deployment"]
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs}


def env_of(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def test_production_without_the_object_stores_secret_is_refused_naming_the_value() -> None:
    out = helm("objectStore.existingSecret=")
    assert out.returncode != 0
    assert "objectStore.existingSecret is required in production" in out.stderr


def test_only_media_and_console_reach_the_store_with_keys_from_the_secret() -> None:
    deps = deployments("objectStore.existingSecret=s3-keys", "objectStore.bucket=evidence")
    with_keys = {name for name, d in deps.items() if S3_KEYS <= set(env_of(d))}
    assert with_keys == {"media", "console"}
    for name in with_keys:
        env = env_of(deps[name])
        assert env["SOCIALDESK_S3_BUCKET"]["value"] == "evidence"
        assert env["SOCIALDESK_S3_ENDPOINT_URL"]["value"] == "https://minio.socialdesk.svc:9000"
        for key in S3_KEYS:
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "s3-keys"
            assert "value" not in env[key]  # never the key itself in the manifest


def test_each_forces_account_secret_reaches_media_and_outbound_only() -> None:
    deps = deployments("forces.north-wales.credentialsSecret=nwp-accounts")
    mounted = {
        name
        for name, d in deps.items()
        for src in d["spec"]["template"]["spec"]["containers"][0].get("envFrom", [])
        if (src.get("secretRef") or {}).get("name") == "nwp-accounts"
    }
    assert mounted == {"media", "outbound"}

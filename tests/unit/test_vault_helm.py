"""The chart gives every service the vault's master key from an existing Secret, and
refuses a production install without one (a service would refuse to start)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/socialdesk"
HELM = ROOT / ".tools/helm/helm"
DEFAULTS = CHART / "ci/default-values.yaml"


def helm(*sets: str) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), "helm missing: `make tools` installs it"
    args = [str(HELM), "template", "sd", str(CHART), "--namespace", "socialdesk"]
    args += ["-f", str(DEFAULTS)]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def test_production_without_a_vault_secret_is_refused_naming_the_value() -> None:
    out = helm("vault.existingSecret=")
    assert out.returncode != 0
    assert "vault.existingSecret is required in production" in out.stderr


def test_every_service_gets_the_vault_key_from_the_secret() -> None:
    out = helm("vault.existingSecret=force-vault", "vault.keyKey=master")
    assert out.returncode == 0, out.stderr
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(out.stdout) if d]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert deployments
    for d in deployments:
        env = {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env["SOCIALDESK_VAULT_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "force-vault", "key": "master"}, d["metadata"]["name"]

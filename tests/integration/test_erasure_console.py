"""The data protection officer's console actions on the real local stack (every service a
subprocess): legal hold from the item page, restriction, subject access ZIP and erasure
with its report, each refused on bad input with the message by the field, each audited,
and all kept to the DPO's own force."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.stack import ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("erasure"))) as p:
        yield p


@pytest.fixture(scope="module")
def items(platform: ConsolePlatform) -> dict[str, dict[str, Any]]:
    """The subject's two Merseyside items and one Met item; another author's item."""
    r = platform.post_mentions(
        [
            mention("7101", "my shed was broken into overnight, tools gone", author="subj"),
            mention("7102", "the same van is parked by the school again", author="subj"),
            mention("7103", "graffiti on the bus shelter by the park", author="bystander"),
            mention("7104", "my phone was taken on the tube", handle="metpoliceuk", author="subj"),
        ]
    )
    assert r.status_code == 200, r.text
    return {n: platform.wait_item(f"x:{n}") for n in ("7101", "7102", "7103", "7104")}


def form(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    return {"csrf": client.headers["X-CSRF-Token"], **fields}


def listed(client: httpx.Client, item_id: str, present: bool, within: float = 15) -> bool:
    """Whether the item is (or is not) in the user's inbox list, within a few seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ids = {i["id"] for i in client.get("/api/items", params={"size": 200}).json()["items"]}
        if (item_id in ids) == present:
            return True
        time.sleep(0.5)
    return False


def audit_actions(p: ConsolePlatform, within: float = 30) -> set[str]:
    deadline = time.monotonic() + within
    wanted = {"legal_hold.placed", "person.restricted", "person.access_exported", "person.erased"}
    found: set[str] = set()
    while time.monotonic() < deadline and not wanted <= found:
        found = {d["action"] for d in p.search("audit", {"match_all": {}}, size=1000)}
        time.sleep(0.5)
    return found


DP_ROUTES = [
    ("GET", "/data-protection"),
    ("POST", "/data-protection/erase"),
    ("POST", "/data-protection/restrict"),
    ("POST", "/data-protection/access"),
    ("GET", "/data-protection/erasures/era_x"),
    ("GET", "/api/data-protection/erasures/era_x"),
    ("GET", "/api/data-protection/erasures/era_x/progress"),
    ("GET", "/items/{item}/hold"),
    ("POST", "/items/{item}/hold"),
    ("POST", "/items/{item}/holds/hold_x/release"),
]


def test_the_data_protection_routes_refuse_nobody_other_roles_and_other_forces(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    nobody = httpx.Client(base_url=platform.console, timeout=30)
    met = platform.login("op.metropolitan")
    op = platform.login("op.merseyside")
    for method, path in DP_ROUTES:
        url = path.replace("{item}", items["7101"]["id"])
        r = nobody.request(method, url, data={"csrf": "x"})
        assert r.status_code in (401, 303), (method, path, r.status_code)
        for client in (met, op):
            r = client.request(method, url, data=form(client, reason="held for a case"))
            assert r.status_code in (403, 404), (method, path, r.status_code)
            assert "shed was broken into" not in r.text


def test_the_dpo_holds_restricts_exports_and_erases_within_the_force(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    dpo = platform.login("dpo.merseyside")
    sup = platform.login("sup.merseyside")
    op = platform.login("op.merseyside")
    held, gone, other, met = (items[n]["id"] for n in ("7101", "7102", "7103", "7104"))

    page = dpo.get("/data-protection")
    assert page.status_code == 200 and 'href="/data-protection"' in page.text
    assert op.get("/data-protection").status_code == 403

    # A hold needs a reason: the form again, the message tied to the field.
    r = sup.post(f"/items/{held}/hold", data=form(sup, reason="x", scope="item"))
    assert r.status_code == 422 and 'aria-describedby="hold-reason-error"' in r.text
    assert 'role="alert"' in r.text
    r = sup.post(f"/items/{held}/hold", data=form(sup, reason="CPS case 12/345", scope="item"))
    assert r.status_code == 303
    assert "CPS case 12/345" in sup.get(f"/items/{held}").text
    assert "CPS case 12/345" in dpo.get("/data-protection").text  # the force's holds listed
    assert sup.post(f"/items/{met}/hold", data=form(sup, reason="not mine")).status_code == 404

    # Restriction: operators no longer see the person's items; the DPO does.
    r = dpo.post(
        "/data-protection/restrict",
        data=form(dpo, platform="x", author="subj", reason="REQ-RESTRICT-1"),
    )
    assert r.status_code == 200 and 'id="done"' in r.text
    assert op.get(f"/items/{gone}").status_code == 403
    assert op.get(f"/items/{other}").status_code == 200
    # Their rows leave the operators' lists and search (within the lists' few seconds).
    assert listed(op, gone, present=False) and listed(dpo, gone, present=True)
    assert gone not in op.get("/api/search", params={"q": "van"}).text
    assert "restricted" in dpo.get(f"/items/{gone}").text
    dpo.post(
        "/data-protection/restrict",
        data=form(dpo, platform="x", author="subj", reason="REQ-RESTRICT-1", lift="true"),
    )
    assert op.get(f"/items/{gone}").status_code == 200
    assert listed(op, gone, present=True)

    # Subject access: the force's items, who opened them, each file's SHA-256.
    opened = {
        "bool": {"filter": [{"term": {"action": "item.opened"}}, {"term": {"target_id": gone}}]}
    }
    deadline = time.monotonic() + 30
    while not platform.search("audit", opened) and time.monotonic() < deadline:
        time.sleep(0.5)
    # Without the request's reference (the disclosure's justification) nothing is exported.
    r = dpo.post("/data-protection/access", data=form(dpo, platform="x", author="subj"))
    assert r.status_code == 422 and 'id="access-reason-error"' in r.text
    assert r.headers["content-type"].startswith("text/html")
    r = dpo.post(
        "/data-protection/access",
        data=form(dpo, platform="x", author="subj", reason="SAR-2026-007"),
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(z.read("manifest.json"))
    for f in manifest["files"]:
        assert hashlib.sha256(z.read(f["name"])).hexdigest() == f["sha256"], f["name"]
    assert {i["id"] for i in json.loads(z.read("items.json"))} == {held, gone}  # not the Met's
    assert json.loads(z.read("manifest.json"))["force"] == "merseyside"
    assert any(v["target_id"] == gone for v in json.loads(z.read("views.json")))
    assert '<html lang="en">' in z.read("summary.html").decode()
    exported = {"term": {"action": "person.access_exported"}}
    deadline = time.monotonic() + 30
    while not platform.search("audit", exported) and time.monotonic() < deadline:
        time.sleep(0.5)
    [record] = platform.search("audit", exported)
    assert record["details"]["reason"] == "SAR-2026-007" and record["actor_id"] == "dpo.merseyside"

    # Erasure: bad input is refused and nothing starts.
    r = dpo.post("/data-protection/erase", data=form(dpo, platform="x", author="", reason="R-1"))
    assert r.status_code == 422 and 'id="erase-author-error"' in r.text
    assert 'id="erasures"' in r.text and "/data-protection/erasures/" not in r.text
    # A real erasure without the ticked confirmation is refused beside the box, nothing run.
    unconfirmed = form(dpo, platform="x", author="subj", reason="DPO-REQ-77")
    r = dpo.post("/data-protection/erase", data=unconfirmed, follow_redirects=False)
    assert r.status_code == 422 and 'id="erase-confirm-error"' in r.text
    assert 'aria-describedby="erase-confirm-error"' in r.text
    assert "/data-protection/erasures/" not in r.text
    r = dpo.post(
        "/data-protection/erase",
        data=form(dpo, platform="x", author="subj", reason="DPO-REQ-77", confirm="true"),
        follow_redirects=False,
    )
    assert r.status_code == 303
    request_id = r.headers["location"].rsplit("/", 1)[1]
    assert "Erasure report" in dpo.get(r.headers["location"]).text
    deadline = time.monotonic() + 60
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        report = dpo.get(f"/api/data-protection/erasures/{request_id}").json()
        if report["status"] != "running":
            break
        time.sleep(0.5)
    assert report["status"] == "done", report
    assert report["counts"]["items"] == 1 and [h["item_id"] for h in report["held"]] == [held]
    assert any("other forces" in p for p in report["problems"])  # the Met item is not ours
    ids = {d["id"] for d in platform.search("items", {"match_all": {}}, size=1000)}
    assert gone not in ids and {held, other, met} <= ids
    # Another force's DPO-less user cannot read the report.
    met_user = platform.login("op.metropolitan")
    assert met_user.get(f"/api/data-protection/erasures/{request_id}").status_code == 403
    assert sup.get(f"/api/data-protection/erasures/{request_id}").status_code == 403

    assert {
        "legal_hold.placed",
        "person.restricted",
        "person.access_exported",
        "person.erased",
    } <= audit_actions(platform)

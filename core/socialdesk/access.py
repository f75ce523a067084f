"""Subject access (GDPR Art. 15 / DPA 2018 s.45): everything held about one member of the
public as a ZIP: manifest.json (each file, where it came from, its SHA-256), the items
and messages as JSON, grades with their reasons, attachments with their SHA-256, who
viewed the items, and an accessible summary.html with no external assets.

`collect` reads the stores; `build_zip` is pure, so a unit test opens what it makes."""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.erasing import ATTACHMENTS, scan
from socialdesk.erasure import Person, holds_their_messages, is_own_item, is_their_message
from socialdesk.es import alias
from socialdesk.settings import BaseServiceSettings

GRADE_FIELDS = ("priority", "intent", "flags", "urgency", "reasons", "language")
VIEW_FIELDS = ("at", "actor_id", "role", "action", "force", "target_id")


class Blobs(Protocol):
    """The part of socialdesk.objectstore.ObjectStore subject access needs."""

    async def get(self, key: str) -> Any: ...  # a StoredObject (.body) or None


@dataclass
class AccessBundle:
    """What one subject access request found, ready to write out."""

    person: Person
    requested_by: str
    at: datetime
    items: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    grades: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)  # object key -> bytes
    problems: list[str] = field(default_factory=list)
    force: str | None = None  # a force DPO's export: that force's records only


def _theirs(doc: dict[str, Any], person: Person) -> list[dict[str, Any]]:
    """The person's own messages of an item (an operator's reply to them is theirs too
    when the item is theirs)."""
    own = is_own_item(doc, person)
    out = []
    for m in doc.get("messages") or []:
        mine = is_their_message(m, person)
        if mine or (own and m.get("direction") == "outbound"):
            out.append({"item_id": doc["id"], **m})
    return out


def add_item(bundle: AccessBundle, doc: dict[str, Any]) -> None:
    """One item into the bundle: whole if theirs, only their messages if another's."""
    person = bundle.person
    bundle.messages.extend(_theirs(doc, person))
    if not is_own_item(doc, person):
        return
    bundle.items.append(
        {k: doc.get(k) for k in ("id", "force", "platform", "channel", "status", "created_at")}
        | {"author_handle": doc.get("author_handle"), "author_name": doc.get("author_name")}
        | {"outcome": doc.get("outcome"), "updated_at": doc.get("updated_at")}
    )
    bundle.grades.append({"item_id": doc["id"], **{k: doc.get(k) for k in GRADE_FIELDS}})


async def collect(
    es: AsyncElasticsearch,
    settings: BaseServiceSettings,
    person: Person,
    *,
    requested_by: str,
    at: datetime,
    blobs: Blobs | None,
    force: str | None = None,
) -> AccessBundle:
    """Read every store for the person (holds do not matter here: access is to all).
    With a force, only that force's items: each force answers for its own records."""
    items = alias(settings, indices.ITEMS)
    await es.indices.refresh(index=items)
    own_q: dict[str, Any] = {
        "bool": {
            "filter": [
                {"term": {"platform": person.platform}},
                {"term": {"author_id": person.author_id}},
            ]
        }
    }
    if force is not None:
        own_q["bool"]["filter"].append({"term": {"force": force}})
    own = [{**h["_source"], "id": h["_id"]} async for h in scan(es, items, own_q)]
    person = person.with_handles(d.get("author_handle") for d in own)
    bundle = AccessBundle(person, requested_by, at, force=force)
    for doc in own:
        add_item(bundle, doc)
    async for h in scan(es, items, {"term": {"platform": person.platform}}):
        doc = {**h["_source"], "id": h["_id"]}
        if force is not None and doc.get("force") != force:
            continue
        if holds_their_messages(doc, person):
            add_item(bundle, doc)
    ids = sorted({m["item_id"] for m in bundle.messages} | {i["id"] for i in bundle.items})
    if ids:
        q = {"terms": {"target_id": ids}}
        async for h in scan(es, alias(settings, indices.AUDIT), q):
            bundle.views.append({k: h["_source"].get(k) for k in VIEW_FIELDS})
    bundle.views.sort(key=lambda v: str(v.get("at")))
    aq: dict[str, Any] = {"bool": {"filter": [{"term": {"author_key": person.key}}]}}
    if force is not None:
        aq["bool"]["filter"].append({"term": {"force": force}})
    async for h in scan(es, alias(settings, ATTACHMENTS), aq):
        bundle.attachments.append(dict(h["_source"]))
    await _fetch_blobs(bundle, blobs)
    return bundle


async def _fetch_blobs(bundle: AccessBundle, blobs: Blobs | None) -> None:
    if bundle.attachments and blobs is None:
        bundle.problems.append("object store not configured: attachment bytes not included")
        return
    for a in bundle.attachments:
        key = str(a.get("object_key") or "")
        if key and blobs is not None:
            try:
                stored = await blobs.get(key)
                if stored is None:
                    bundle.problems.append(f"attachment {a.get('sha256')}: not in the store")
                else:
                    bundle.blobs[key] = stored.body
                    if a.get("sha256") and _sha(stored.body) != a["sha256"]:
                        bundle.problems.append(
                            f"attachment {a['sha256']}: its bytes no longer match its SHA-256"
                        )
            except Exception as exc:
                bundle.problems.append(f"attachment {a.get('sha256')}: {type(exc).__name__}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()


class SummaryLanguage(StrEnum):
    """The language the summary is written in: the DPO's; a force under the Welsh
    Language Standards answers in both (docs/welsh.md)."""

    en = "en"
    cy = "cy"
    bilingual = "cy+en"


# The summary's words in Welsh (core cannot read the console's catalogues; docs/welsh.md:
# a native speaker should review them).
WELSH = {
    "Information held about you": "Gwybodaeth a gedwir amdanoch chi",
    "Platform": "Platfform",
    "Prepared": "Paratowyd",
    "Conversations started by you": "Sgyrsiau a ddechreuwyd gennych chi",
    "Messages": "Negeseuon",
    "Attachments": "Atodiadau",
    "Records of staff access": "Cofnodion o fynediad gan staff",
    "How each conversation was graded, and why": "Sut y graddiwyd pob sgwrs, a pham",
    "Grades": "Graddau",
    "Item": "Eitem",
    "Priority": "Blaenoriaeth",
    "Intent": "Bwriad",
    "Reasons": "Rhesymau",
    "Your messages": "Eich negeseuon",
    "Who looked at them": "Pwy edrychodd arnynt",
    "Access by staff": "Mynediad gan staff",
    "When": "Pryd",
    "Who": "Pwy",
    "What": "Beth",
    "The files in this archive are listed, with their SHA-256, in manifest.json.": (
        "Rhestrir y ffeiliau yn yr archif hon, gyda'u SHA-256, yn manifest.json."
    ),
}


def words(language: SummaryLanguage) -> Callable[[str], str]:
    """The summary's translator: Welsh, English, or "Cymraeg / English"."""
    if language is SummaryLanguage.cy:
        return lambda w: WELSH.get(w, w)
    if language is SummaryLanguage.bilingual:
        return lambda w: f"{WELSH[w]} / {w}" if w in WELSH else w
    return lambda w: w


def summary_html(bundle: AccessBundle, language: SummaryLanguage = SummaryLanguage.en) -> str:
    """A plain, accessible page (lang, title, headings, table headers, no scripts or
    external assets) a person can read without any tool, in the DPO's language."""
    e = html.escape
    t = words(language)
    lang = "en" if language is SummaryLanguage.en else "cy"
    rows = "".join(
        f"<tr><th scope='row'>{e(str(g['item_id']))}</th><td>{e(str(g.get('priority')))}</td>"
        f"<td>{e(str(g.get('intent')))}</td><td>{e('; '.join(g.get('reasons') or []))}</td></tr>"
        for g in bundle.grades
    )
    msgs = "".join(
        f"<li><p><strong>{e(str(m.get('at')))}</strong> ({e(str(m.get('direction')))})</p>"
        f"<p>{e(str(m.get('text')))}</p></li>"
        for m in bundle.messages
    )
    views = "".join(
        f"<tr><td>{e(str(v.get('at')))}</td><td>{e(str(v.get('actor_id')))}</td>"
        f"<td>{e(str(v.get('action')))}</td><td>{e(str(v.get('target_id')))}</td></tr>"
        for v in bundle.views
    )
    counts = " ".join(
        f"{e(t(label))}: {n}."
        for label, n in (
            ("Conversations started by you", len(bundle.items)),
            ("Messages", len(bundle.messages)),
            ("Attachments", len(bundle.attachments)),
            ("Records of staff access", len(bundle.views)),
        )
    )
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{e(t("Information held about you"))}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:1em auto;color:#0b0c0c}}
th,td{{border:1px solid #505a5f;padding:.3em;text-align:left}}table{{border-collapse:collapse}}
</style></head><body><main>
<h1>{e(t("Information held about you"))}</h1>
<p>{e(t("Platform"))}: {e(bundle.person.platform)}. {e(t("Prepared"))}: {e(bundle.at.isoformat())}.
{counts}</p>
<h2>{e(t("How each conversation was graded, and why"))}</h2>
<table><caption>{e(t("Grades"))}</caption><thead><tr><th scope="col">{e(t("Item"))}</th>
<th scope="col">{e(t("Priority"))}</th><th scope="col">{e(t("Intent"))}</th>
<th scope="col">{e(t("Reasons"))}</th></tr>
</thead><tbody>{rows}</tbody></table>
<h2>{e(t("Your messages"))}</h2><ol>{msgs}</ol>
<h2>{e(t("Who looked at them"))}</h2>
<table><caption>{e(t("Access by staff"))}</caption><thead><tr><th scope="col">{e(t("When"))}</th>
<th scope="col">{e(t("Who"))}</th><th scope="col">{e(t("What"))}</th>
<th scope="col">{e(t("Item"))}</th></tr></thead>
<tbody>{views}</tbody></table>
<p>{e(t("The files in this archive are listed, with their SHA-256, in manifest.json."))}</p>
</main></body></html>
"""


def build_zip(bundle: AccessBundle, language: SummaryLanguage = SummaryLanguage.en) -> bytes:
    """The ZIP: each file with its SHA-256 and source in manifest.json; summary.html in
    `language`."""
    files: dict[str, tuple[bytes, str]] = {
        "items.json": (_json(bundle.items), "Elasticsearch items (the console's record)"),
        "messages.json": (_json(bundle.messages), "Elasticsearch items: messages"),
        "grades.json": (_json(bundle.grades), "triage grades and reasons on the items"),
        "views.json": (_json(bundle.views), "audit trail: who opened the items"),
        "attachments.json": (_json(bundle.attachments), "Elasticsearch attachments index"),
    }
    for a in bundle.attachments:
        key = str(a.get("object_key") or "")
        if key in bundle.blobs:
            name = f"attachments/{a.get('item_id')}/{a.get('sha256')}"
            files[name] = (bundle.blobs[key], "object store")
    files["summary.html"] = (summary_html(bundle, language).encode(), "made from the files above")
    manifest = {
        "subject": {"platform": bundle.person.platform, "author_key": bundle.person.key},
        "force": bundle.force or "all forces",
        "prepared_at": bundle.at.isoformat(),
        "prepared_by": bundle.requested_by,
        "problems": bundle.problems,
        "files": [
            {"name": n, "sha256": _sha(data), "bytes": len(data), "source": src}
            for n, (data, src) in files.items()
        ],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", _json(manifest))
        for name, (data, _) in files.items():
            z.writestr(name, data)
    return out.getvalue()

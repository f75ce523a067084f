"""The subject access ZIP (socialdesk.access): a manifest naming each file with its
SHA-256 and source, the person's messages only from other people's items, attachments
with their bytes, and a summary page that escapes what people wrote."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

from socialdesk.access import AccessBundle, SummaryLanguage, add_item, build_zip
from socialdesk.erasure import Person

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ME = Person("x", "42", frozenset({"me_handle"}))


def bundle() -> AccessBundle:
    b = AccessBundle(ME, "dpo.merseyside", NOW)
    add_item(
        b,
        {
            "id": "itm_mine",
            "platform": "x",
            "author_id": "42",
            "author_handle": "me_handle",
            "priority": "P2",
            "intent": "crime_report",
            "reasons": ["names a crime", "a vehicle registration"],
            "messages": [
                {"author": "me_handle", "direction": "inbound", "text": "<b>van</b> again"},
                {"author": "op.alice", "direction": "outbound", "text": "we are on it"},
            ],
        },
    )
    add_item(
        b,
        {
            "id": "itm_theirs",
            "platform": "x",
            "author_id": "99",
            "messages": [
                {"author": "neighbour", "direction": "inbound", "text": "the neighbour's words"},
                {"author": "me_handle", "direction": "inbound", "text": "my words there"},
            ],
        },
    )
    b.attachments = [{"item_id": "itm_mine", "sha256": "abc", "object_key": "attachments/k/i/abc"}]
    b.blobs = {"attachments/k/i/abc": b"\x89PNG fake"}
    b.views = [{"at": NOW.isoformat(), "actor_id": "op.alice", "action": "item.opened"}]
    return b


def test_the_zip_lists_every_file_with_its_sha256_and_source() -> None:
    z = zipfile.ZipFile(io.BytesIO(build_zip(bundle())))
    manifest = json.loads(z.read("manifest.json"))
    names = {f["name"] for f in manifest["files"]}
    assert set(z.namelist()) == names | {"manifest.json"}
    assert "attachments/itm_mine/abc" in names and "summary.html" in names
    for f in manifest["files"]:
        assert hashlib.sha256(z.read(f["name"])).hexdigest() == f["sha256"]
        assert f["source"]
    assert z.read("attachments/itm_mine/abc") == b"\x89PNG fake"
    assert manifest["prepared_by"] == "dpo.merseyside"


def test_only_the_persons_part_of_another_persons_item_is_given() -> None:
    b = bundle()
    texts = [m["text"] for m in b.messages]
    assert "my words there" in texts and "the neighbour's words" not in texts
    assert [i["id"] for i in b.items] == ["itm_mine"]  # the other item is not theirs
    assert b.grades == [
        {
            "item_id": "itm_mine",
            "priority": "P2",
            "intent": "crime_report",
            "flags": None,
            "urgency": None,
            "reasons": ["names a crime", "a vehicle registration"],
            "language": None,
        }
    ]


def test_the_summary_is_accessible_and_escapes_what_people_wrote() -> None:
    z = zipfile.ZipFile(io.BytesIO(build_zip(bundle())))
    page = z.read("summary.html").decode()
    assert '<html lang="en">' in page and "<title>" in page and "<h1>" in page
    assert "&lt;b&gt;van&lt;/b&gt;" in page and "<b>van</b>" not in page
    assert 'scope="col"' in page and "<caption>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_a_welsh_summary_has_welsh_headings_and_a_welsh_forces_has_both() -> None:
    welsh = build_zip(bundle(), SummaryLanguage.cy)
    page = zipfile.ZipFile(io.BytesIO(welsh)).read("summary.html").decode()
    assert '<html lang="cy">' in page
    assert "<h1>Gwybodaeth a gedwir amdanoch chi</h1>" in page
    assert "Information held about you" not in page
    assert "&lt;b&gt;van&lt;/b&gt;" in page  # what people wrote is theirs, untranslated
    both = build_zip(bundle(), SummaryLanguage.bilingual)
    page = zipfile.ZipFile(io.BytesIO(both)).read("summary.html").decode()
    assert "<h1>Gwybodaeth a gedwir amdanoch chi / Information held about you</h1>" in page

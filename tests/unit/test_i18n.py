"""The console's two languages (issue 25): every string the console shows, extracted with
Babel from the templates, the scripts' t("...") calls and the Python, is in both
catalogues with a Welsh translation that is neither empty nor fuzzy and keeps the same
placeholders; the language is chosen by the user's switch, else by the force; pages say
lang="cy" in Welsh; a Welsh force's report headings are in both languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from socialdesk.config import load_config
from socialdesk.events import ItemEventType
from socialdesk.subjects import SUBJECTS
from socialdesk.taxonomy import Channel, Flag, Intent, ItemStatus, Outcome
from socialdesk_console import i18n
from socialdesk_console.auth import User
from socialdesk_console.catalogues import extract, keys, read
from socialdesk_console.context import HERE
from socialdesk_console.labels import LABELS, SUBJECT_LABELS, label, text_lang
from socialdesk_console.reports import period_or_400
from socialdesk_console.statement import render, statement_html

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
FIX = "run: python -m socialdesk_console.catalogues, then translate in docs/welsh.md's terms"


@pytest.fixture(autouse=True)
def english_after() -> Any:
    token = i18n.CURRENT.set("en")
    bilingual = i18n.BILINGUAL.set(False)
    yield
    i18n.CURRENT.reset(token)
    i18n.BILINGUAL.reset(bilingual)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\([a-z_]+\)s|\{[a-z_]+\}", text))


def test_every_console_string_is_in_both_catalogues_with_real_welsh() -> None:
    used = extract()
    assert len(used) > 250  # templates, scripts and Python all reached
    for where in ("templates/item.html", "static/item.js", "report_charts.py", "labels.py"):
        assert any(w == where for places in used.values() for w, _ in places), where
    assert ("From", "message author") in used  # pgettext's contexts are kept apart
    for lang in ("en", "cy"):
        ids = keys(read(lang))
        missing = sorted(set(used) - ids, key=str)
        assert not missing, f"not in the {lang} catalogue ({FIX}): {missing}"
        stale = sorted(ids - set(used), key=str)
        assert not stale, f"no longer used, in the {lang} catalogue ({FIX}): {stale}"
    welsh = {(m.id, m.context): m for m in read("cy") if m.id}
    empty = sorted((k for k, m in welsh.items() if not m.string), key=str)
    assert not empty, f"no Welsh yet: {empty}"
    fuzzy = sorted((k for k, m in welsh.items() if m.fuzzy), key=str)
    assert not fuzzy, f"Welsh marked fuzzy (check it, then drop the flag): {fuzzy}"
    for (msgid, _ctx), m in welsh.items():
        assert isinstance(m.string, str) and isinstance(msgid, str)
        assert placeholders(m.string) == placeholders(msgid), (msgid, m.string)


def test_a_missing_welsh_string_is_caught(tmp_path: Path) -> None:
    """The floor's own check: a string in the code but not translated is reported."""
    used = set(extract()) | {("A string nobody translated", None)}
    ids = {(m.id, m.context) for m in read("cy") if m.id and m.string}
    assert sorted(used - ids, key=str) == [("A string nobody translated", None)]


def test_the_users_choice_wins_else_a_welsh_force_starts_in_welsh() -> None:
    assert i18n.choose(None, welsh_force=False) == "en"
    assert i18n.choose(None, welsh_force=True) == "cy"
    assert i18n.choose("en", welsh_force=True) == "en"
    assert i18n.choose("cy", welsh_force=False) == "cy"
    assert i18n.choose("fr", welsh_force=True) == "cy"
    # Signed out, the browser's first language stands in for the force.
    assert i18n.prefers_welsh("cy-GB,cy;q=0.9,en;q=0.8")
    assert i18n.prefers_welsh("cy")
    assert not i18n.prefers_welsh("en-GB,cy;q=0.9")
    assert not i18n.prefers_welsh("")
    welsh = {f for f, fc in CONFIG.forces.items() if fc.welsh_language_standards}
    assert {"north-wales", "south-wales", "dyfed-powys", "gwent"} <= welsh
    assert "merseyside" not in welsh


def test_strings_from_python_follow_the_request_language() -> None:
    assert i18n._("Inbox") == "Inbox"
    i18n.use("cy")
    assert i18n._("Inbox") == "Mewnflwch"
    assert label("welfare_concern") == "pryder lles"
    assert label("made_up_code") == "made up code"
    # A text in English on a Welsh page is marked as English, and the reverse.
    assert text_lang({"language": "en"}) == ' lang="en"'
    assert text_lang({"language": "cy"}) == ""
    i18n.use("en")
    assert text_lang({"flags": ["welsh_language"]}) == ' lang="cy"'
    assert text_lang({"language": None}) == ""


def test_every_code_the_pages_show_has_a_label() -> None:
    for enum in (Intent, Flag, Outcome, ItemStatus, Channel):
        for v in enum:
            assert v.value in LABELS, v
    assert set(SUBJECTS) <= set(SUBJECT_LABELS)
    for event in ItemEventType:
        assert event.value in LABELS, event


def test_the_scripts_get_their_strings_in_the_page_language() -> None:
    assert i18n.js_strings() == {}  # English: the scripts' own text
    i18n.use("cy")
    strings = i18n.js_strings()
    assert strings["Nothing open in this view."] == "Dim byd ar agor yn yr olwg hon."
    assert strings["{n} in this view"] == "{n} yn yr olwg hon"
    assert all(v for v in strings.values())


def render_page(name: str, lang: str, **ctx: Any) -> str:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    i18n.install(templates.env)
    templates.env.globals["idle_s"] = 1800
    templates.env.globals["max_age_s"] = 8 * 3600
    i18n.use(lang)
    scope = {"type": "http", "method": "GET", "path": "/inbox", "query_string": b"", "headers": []}
    resp = templates.TemplateResponse(Request(scope), name, ctx)
    return bytes(resp.body).decode()


def test_a_welsh_page_is_welsh_with_lang_cy_a_switch_and_the_scripts_dictionary() -> None:
    me = User("op", "Gwen", "north-wales", "operator", ("digital-desk",), "tok", started=1000.0)
    page = render_page("error.html", "cy", status=404, detail="no such item", user=me)
    assert '<html lang="cy">' in page
    assert "404: Heb ei ganfod" in page and "nid oes eitem o\u2019r fath" in page
    assert "Mewnflwch" in page and "Neidio i\u2019r prif gynnwys" in page
    assert "Beth mae\u2019n ei wneud" in page  # the shortcuts table's column
    assert 'name="lang" value="en">' in page and 'value="English" lang="en"' in page
    assert 'id="sd-i18n">{' in page and "Dim byd ar agor" in page
    assert 'id="idle-warning"' in page and "Aros wedi mewngofnodi" in page
    assert '"welfare_concern": "pryder lles"' in page  # the codes' names for the scripts
    assert 'data-ends-at="29800"' in page and "para 8 awr ar y mwyaf" in page
    assert 'href="/accessibility"' in page
    english = render_page("error.html", "en", status=404, detail="no such item", user=me)
    assert '<html lang="en">' in english and "404: Not found" in english
    assert 'value="Cymraeg" lang="cy"' in english and 'id="sd-i18n">{}' in english


def test_a_welsh_forces_report_headings_are_in_both_languages() -> None:
    assert i18n.heading("Volume by day") == "Volume by day"
    i18n.BILINGUAL.set(True)
    assert i18n.heading("Volume by day") == "Nifer fesul diwrnod / Volume by day"
    assert i18n.heading("section") == "adran / section"


def test_a_period_error_reads_in_the_page_language() -> None:
    with pytest.raises(HTTPException) as english:
        period_or_400("2026-03-10", "2026-03-01")
    assert english.value.detail == (
        "bad period: the period starts (2026-03-10) after it ends (2026-03-01)"
    )
    i18n.use("cy")
    with pytest.raises(HTTPException) as welsh:
        period_or_400("2026-03-10", "2026-03-01")
    assert welsh.value.detail == (
        "cyfnod annilys: mae\u2019r cyfnod yn dechrau (2026-03-10) ar ôl iddo ddod i ben "
        "(2026-03-01)"
    )


def test_the_accessibility_statement_renders_from_the_doc() -> None:
    html = str(statement_html())
    assert "<h1>Accessibility statement for the socialdesk console</h1>" in html
    assert "<table" in html and "<pre><code>" in html
    assert render("a <b> [x](javascript:void)") == "<p>a &lt;b&gt; x</p>"

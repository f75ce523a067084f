"""The Welsh interface against the real local stack (issue 25): an operator of a force
under the Welsh Language Standards starts in Welsh (inbox and item, `<html lang="cy">`,
an English message marked lang="en"), switches to English and back with the form on
every page (CSRF-checked, remembered), an English force's operator starts in English;
the accessibility statement is a page, and "stay signed in" extends the session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.stack import ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration
WELSH = "Mae rhywun wedi dwyn fy meic o'r tu allan i'r siop ym Mangor, beth ddylwn i ei wneud?"
ENGLISH = "someone has stolen my bike from outside the shop in Bangor, what do I do"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("welsh"))) as p:
        yield p


@pytest.fixture(scope="module")
def items(platform: ConsolePlatform) -> dict[str, dict[str, Any]]:
    r = platform.post_mentions(
        [
            mention("9001", WELSH, handle="NWPolice", author="gwyn", language="cy"),
            mention("9002", ENGLISH, handle="NWPolice", author="bill", language="en"),
        ]
    )
    assert r.status_code == 200, r.text
    return {n: platform.wait_item(f"x:{n}") for n in ("9001", "9002")}


SWITCH = re.compile(r'class="lang-switch">\s*<input type="hidden" name="csrf" value="([^"]+)"')


def switch(client: httpx.Client, lang: str, next_: str, on: str | None = None) -> httpx.Response:
    """The switch's form on page `on` (default: next_), posted with its own token."""
    csrf = SWITCH.search(client.get(on or next_).text)
    assert csrf, "no language switch on the page"
    return client.post("/language", data={"lang": lang, "csrf": csrf[1], "next": next_})


def test_a_welsh_forces_operator_works_in_welsh_and_can_switch(
    platform: ConsolePlatform, items: dict[str, dict[str, Any]]
) -> None:
    op = platform.login("op.north-wales")
    inbox = op.get("/inbox?view=all_open").text
    assert '<html lang="cy">' in inbox
    assert "Mewnflwch" in inbox and "Pob un ar agor" in inbox and "Allgofnodi" in inbox
    assert '<th scope="col">Gan</th>' in inbox  # "From" an author, not a date
    assert 'value="English" lang="en" id="language-switch"' in inbox
    assert WELSH.replace("'", "&#39;") in inbox
    english_item = items["9002"]
    # On a Welsh page, the English message is marked as English (WCAG 3.1.2).
    assert re.search(r'lang="en">' + re.escape(ENGLISH[:40]), inbox)

    item = op.get(f"/items/{items['9001']['id']}").text
    assert '<html lang="cy">' in item
    assert "Hawlio" in item and "Datrys" in item and "Edefyn" in item and "Anfon ateb" in item
    assert '"Nothing open in this view.": "Dim byd ar agor yn yr olwg hon."' in item
    other = op.get(f"/items/{english_item['id']}").text
    assert re.search(r'<span class="text" lang="en">' + re.escape(ENGLISH[:40]), other)

    # A Welsh force's export has its headings in Welsh and English.
    head = op.get("/api/search/export").text.splitlines()[0]
    assert head.startswith("eitem / item,heddlu / force,tîm / team,gradd / grade"), head

    # The switch: a forged post changes nothing, the real one is remembered.
    assert op.post("/language", data={"lang": "en", "csrf": "forged"}).status_code == 403
    r = switch(op, "en", "/inbox?view=all_open")
    assert r.status_code == 303 and r.headers["location"] == "/inbox?view=all_open"
    assert r.cookies.get("sd_lang") == "en"
    english = op.get("/inbox").text
    assert '<html lang="en">' in english and "My items" in english
    assert 'value="Cymraeg" lang="cy" id="language-switch"' in english
    # A switch never sends the browser to another site.
    r = switch(op, "cy", "//elsewhere.example/", on="/inbox")
    assert r.headers["location"] == "/inbox"
    assert '<html lang="cy">' in op.get("/search").text


def test_an_english_forces_operator_starts_in_english_and_may_choose_welsh(
    platform: ConsolePlatform,
) -> None:
    op = platform.login("op.merseyside")
    page = op.get("/inbox").text
    assert '<html lang="en">' in page and "Skip to main content" in page
    assert op.get("/api/search/export").text.startswith("id,force,team,priority")
    switch(op, "cy", "/inbox")
    assert "Neidio i\u2019r prif gynnwys" in op.get("/inbox").text


def test_the_sign_in_page_offers_the_switch_and_the_statement(platform: ConsolePlatform) -> None:
    anon = httpx.Client(base_url=platform.console, timeout=30)
    r = switch(anon, "cy", "/login")
    assert r.status_code == 303
    login = anon.get("/login").text
    assert '<html lang="cy">' in login and "Mewngofnodi" in login
    statement = anon.get("/accessibility")
    assert statement.status_code == 200
    assert "<h1>Accessibility statement for the socialdesk console</h1>" in statement.text
    assert 'lang="en"' in statement.text  # the statement itself is in English for now


def test_stay_signed_in_extends_the_session_and_needs_csrf(platform: ConsolePlatform) -> None:
    op = platform.login("op.merseyside")
    r = op.post("/api/session/extend")
    assert r.status_code == 200 and r.json()["idle_s"] > 120
    forged = op.post("/api/session/extend", headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    assert 'id="idle-warning"' in op.get("/inbox").text

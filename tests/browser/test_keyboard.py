"""Keyboard-fast triage in Chromium (issue 25): an operator signs in, moves through the
inbox with j and k, opens an item with o, claims it (c), replies from a Welsh template (r,
arrow keys, Ctrl+Enter), re-grades it (g), resolves it with an outcome (d) and goes back
to the inbox (i), without the mouse. The single keys do nothing while the operator types
in a field, the ? dialog lists them and can turn them off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from .stack import PASSWORD, ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("keys")), publisher="recorder") as p:
        yield p


def cursor(page: Page) -> str | None:
    return page.evaluate(
        "() => { const r = document.activeElement.closest('tr[data-id]');"
        " return r && r.hasAttribute('data-cursor') ? r.dataset.id : null; }"
    )


def choose(page: Page, select: str, value: str) -> None:
    """Pick an option of the focused <select> with the arrow keys only."""
    expect(page.locator(select)).to_be_focused()
    for key in ("ArrowDown", "ArrowUp"):
        for _ in range(25):
            if page.input_value(select) == value:
                return
            page.keyboard.press(key)
    raise AssertionError(f"{value} not reached in {select}")


def test_claim_reply_regrade_resolve_by_keyboard_only(
    platform: ConsolePlatform, browser: Browser
) -> None:
    r = platform.post_mentions(
        [
            mention(
                "9001",
                "Mae rhywun wedi dwyn fy meic o'r tu allan i'r siop, beth ddylwn i ei wneud?",
                author="gwen_cymru",
                language="cy",
            ),
            mention("9002", "someone smashed my car window on Lark Lane, can I get a ref"),
            mention("9003", "lads on off-road bikes tearing round Sefton Park every night"),
        ]
    )
    assert r.status_code == 200
    items: dict[str, Any] = {n: platform.wait_item(f"x:{n}") for n in ("9001", "9002", "9003")}
    welsh = items["9001"]["id"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda d: pytest.fail(f"an unexpected dialog: {d.message}"))

    # Sign in: the username field has focus; type, Tab, type, Enter.
    page.goto(platform.console + "/login")
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type("op.merseyside")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox")
    expect(page.locator("#inbox tbody tr[data-id]")).to_have_count(3, timeout=10_000)

    # ? shows the shortcuts; Esc closes the dialog.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Claim")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    # j and k move a cursor through the rows (focus on the row's link).
    ids = page.eval_on_selector_all("#inbox tbody tr[data-id]", "rs => rs.map(r => r.dataset.id)")
    page.keyboard.press("j")
    assert cursor(page) == ids[0]
    page.keyboard.press("j")
    assert cursor(page) == ids[1]
    page.keyboard.press("k")
    assert cursor(page) == ids[0]
    for _ in range(len(ids)):
        if cursor(page) == welsh:
            break
        page.keyboard.press("j")
    assert cursor(page) == welsh
    page.keyboard.press("o")
    page.wait_for_url(f"**/items/{welsh}")

    # Keys typed into a field are text, not shortcuts.
    page.keyboard.press("r")
    expect(page.locator("#template")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#tpl_crime_reference")).to_be_focused()
    page.keyboard.type("cgd?")
    expect(page.locator("#tpl_crime_reference")).to_have_value("cgd?")
    expect(page.locator("#shortcuts")).to_be_hidden()
    expect(page.locator("#outcome-msg")).to_have_text("")
    for _ in range(4):
        page.keyboard.press("Backspace")
    page.keyboard.press("Tab")
    expect(page.locator("#preview")).to_be_focused()  # a button: single keys work again

    # c claims; the page reloads (after showing the outcome) with the operator as owner.
    with page.expect_event("load", timeout=15_000):
        page.keyboard.press("c")
        expect(page.locator("#outcome-msg")).to_contain_text("Done: claimed", timeout=10_000)
    expect(page.locator("#owner")).to_have_text("op.merseyside", timeout=10_000)

    # r goes to the templates; the arrow keys pick the Welsh one, which is previewed;
    # the text is edited and Ctrl+Enter sends it.
    page.keyboard.press("r")
    choose(page, "#template", "report-online|cy")
    expect(page.locator("#text")).to_have_value(re.compile("^Helo @gwen_cymru"), timeout=5_000)
    expect(page.locator("#text")).to_have_attribute("lang", "cy")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#text")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Diolch.")
    with page.expect_event("load", timeout=15_000):
        page.keyboard.press("Control+Enter")
        expect(page.locator("#outcome-msg")).to_contain_text("Done: replied", timeout=10_000)
    expect(page.locator("#thread li.outbound")).to_contain_text("Diolch.", timeout=10_000)

    # g goes to the grade; a new grade, a reason, Ctrl+Enter.
    page.keyboard.press("g")
    before = page.input_value("#priority")
    choose(page, "#priority", "P2" if before != "P2" else "P3")
    page.keyboard.press("Tab")
    expect(page.locator("#regrade_reason")).to_be_focused()
    page.keyboard.type("stolen bike, owner may know who took it")
    grade = page.input_value("#priority")
    with page.expect_event("load", timeout=15_000):
        page.keyboard.press("Control+Enter")
        expect(page.locator("#outcome-msg")).to_contain_text("Done: regraded", timeout=10_000)
    expect(page.locator(".item h1 .grade")).to_have_text(grade, timeout=10_000)

    # d goes to the outcome; pick one, Ctrl+Enter resolves.
    page.keyboard.press("d")
    choose(page, "#outcome", "signposted")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#outcome-msg")).to_contain_text("Done: resolved", timeout=10_000)
    expect(page.locator("#status")).to_have_text("resolved", timeout=10_000)

    # i goes back to the inbox; the resolved item has left the open view.
    page.keyboard.press("i")
    page.wait_for_url("**/inbox*")
    expect(page.locator(f"#inbox tr[data-id='{welsh}']")).to_have_count(0, timeout=10_000)
    page.keyboard.press("j")
    assert cursor(page) in ids and cursor(page) != welsh

    # The single keys can be turned off (and on again) from the ? dialog.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts-on")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#shortcuts-on")).not_to_be_checked()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.reload()
    page.keyboard.press("j")
    assert cursor(page) is None
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_hidden()
    for _ in range(12):  # Tab along the header to the Shortcuts button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "shortcuts-open":
            break
    page.keyboard.press("Enter")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts-on")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#shortcuts-on")).to_be_checked()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("j")
    assert cursor(page) is not None
    page.close()

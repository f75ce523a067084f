"""The data protection pages in Chromium: axe-core finds no WCAG 2.2 A/AA violation on
the DPO's page, its refused form, the erasure report (which follows the erasure's steps
and then shows the whole report), the legal hold form and the item page with its hold
banner; a refused field has its message tied to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.stack import ConsolePlatform, console_platform, mention, sign_in
from tests.browser.test_accessibility import AXE, Audit, new_context

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("dp-pages"))) as p:
        yield p


@pytest.fixture(scope="module")
def items(platform: ConsolePlatform) -> dict[str, dict[str, Any]]:
    r = platform.post_mentions(
        [
            mention("9101", "my garden shed was broken into last night", author="shed_owner"),
            mention("9102", "the shed again, they came back for the mower", author="shed_owner"),
        ]
    )
    assert r.status_code == 200
    return {n: platform.wait_item(f"x:{n}") for n in ("9101", "9102")}


def test_the_data_protection_pages_are_accessible_and_say_what_happened(
    platform: ConsolePlatform, browser: Browser, items: dict[str, dict[str, Any]]
) -> None:
    assert AXE.exists()
    audit = Audit()
    ctx = new_context(browser)
    page = ctx.new_page()
    c = platform.console
    held = items["9101"]["id"]

    # A supervisor holds an item: the form, refused without a reason, then the banner.
    sign_in(page, platform, "sup.merseyside")
    page.goto(f"{c}/items/{held}")
    page.click("#hold-link")
    audit.check(page, "legal hold form")
    page.click("#hold-form button[type=submit]")
    expect(page.locator("#hold-reason-error")).to_be_visible()
    assert page.get_attribute("#hold-reason", "aria-describedby") == "hold-reason-error"
    audit.check(page, "legal hold form, refused")
    page.fill("#hold-reason", "Crown Court T2026-0113")
    page.click("#hold-form button[type=submit]")
    expect(page.locator(".notice", has_text="Crown Court T2026-0113")).to_be_visible()
    audit.check(page, "item page with a legal hold")
    page.screenshot(path="docs/screenshots/legal-hold.png", full_page=True)
    ctx.close()

    # The DPO: the page, a refused erasure, then an erasure and its report.
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, platform, "dpo.merseyside")
    page.click("nav a[href='/data-protection']")
    audit.check(page, "data protection page")
    page.select_option("#erase-platform", "x")
    page.fill("#erase-reason", "DPO-2026-099")
    page.click("#erase-form button[type=submit]")
    expect(page.locator("#erase-author-error")).to_be_visible()
    assert page.get_attribute("#erase-author", "aria-invalid") == "true"
    audit.check(page, "data protection page, refused erasure")
    page.screenshot(path="docs/screenshots/data-protection-refused.png", full_page=True)
    page.fill("#erase-author", "shed_owner")
    page.fill("#erase-reason", "DPO-2026-099")
    page.click("#erase-form button[type=submit]")
    # Not a dry run and not confirmed: refused beside the box, nothing erased.
    expect(page.locator("#erase-confirm-error")).to_be_visible()
    assert page.get_attribute("#erase-confirm", "aria-describedby") == "erase-confirm-error"
    audit.check(page, "data protection page, erasure not confirmed")
    page.check("#erase-confirm")
    page.click("#erase-form button[type=submit]")
    page.wait_for_url("**/data-protection/erasures/*")
    expect(page.locator("#status-value")).to_have_text("done", timeout=30_000)
    expect(page.locator("#held")).to_contain_text(held)
    expect(page.locator("[data-store=items]")).to_have_text("1")
    expect(page.locator("[data-store=author_days]")).to_have_text("1")  # one day, both items
    audit.check(page, "erasure report")
    page.screenshot(path="docs/screenshots/erasure-report.png", full_page=True)
    ctx.close()
    audit.assert_clean()

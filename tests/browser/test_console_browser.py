"""The console in a real browser (Debian's chromium through Playwright) against the
whole local stack: sign in, see the live inbox (a new P1 raises the banner), claim an
item, reply from a Welsh template, resolve it, then read the audit trail as a force
administrator. Saves the screenshots in docs/screenshots/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from socialdesk.events import item_key_of

from .stack import ConsolePlatform, console_platform, mention, sign_in, sla_warning

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("browser")), publisher="recorder") as p:
        yield p


def test_operator_claims_replies_in_welsh_resolves_and_admin_sees_the_audit(
    platform: ConsolePlatform, browser: Browser
) -> None:
    r = platform.post_mentions(
        [
            mention(
                "7001",
                "Mae rhywun wedi dwyn fy meic o'r tu allan i'r siop, beth ddylwn i ei wneud?",
                author="gwen_cymru",
                language="cy",
            ),
            mention(
                "7002", "someone smashed my car window on Lark Lane last night, any chance of a ref"
            ),
            mention(
                "7003",
                "lads on off-road bikes tearing round Sefton Park again every night this week",
            ),
            mention(
                "7004", "worried about my neighbour, haven't seen her for 3 days and post piling up"
            ),
            mention(
                "7005",
                "there's a man with a knife outside the shop on Lord St right now "
                "<script>alert(1)</script>",
            ),
        ]
    )
    assert r.status_code == 200
    welsh = platform.wait_item("x:7001")
    for n in ("7002", "7003", "7004", "7005"):
        platform.wait_item(f"x:{n}")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("dialog", lambda d: pytest.fail(f"a script ran: {d.message}"))

    # The inbox: P1 on top, counters, live banner for a new P1.
    sign_in(page, platform, "op.merseyside")
    expect(page.locator("#inbox tbody tr").first).to_have_class("P1")
    expect(page.locator(".counter[data-view=all_open]")).to_have_text("5")
    expect(page.locator("#live")).to_have_text("live", timeout=10_000)
    platform.post_mentions(
        [mention("7006", "help he has a gun and is threatening to shoot people on Bold Street now")]
    )
    expect(page.locator("#p1-banner")).to_be_visible(timeout=15_000)
    expect(page.locator("#p1-banner")).to_contain_text("New P1")
    expect(page.locator(".counter[data-view=all_open]")).to_have_text("6", timeout=10_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-inbox.png"), full_page=True)

    # The workspace: claim, reply from a Welsh template, resolve.
    page.click(f"a[href='/items/{welsh['id']}']")
    page.wait_for_url(f"**/items/{welsh['id']}")
    page.click("button[data-cmd=claim]")
    expect(page.locator("#outcome-msg")).to_contain_text("Done: claimed", timeout=5_000)
    page.wait_for_load_state("load")
    expect(page.locator("#owner")).to_have_text("op.merseyside", timeout=10_000)
    page.select_option("#template", "report-online|cy")
    expect(page.locator("#text")).to_have_value(
        "Helo @gwen_cymru, diolch am gysylltu. Gallwch roi gwybod am hyn ar-lein yn "
        "https://www.merseyside.police.uk/ro/report/ a bydd yn cyrraedd y tîm cywir. "
        "Merseyside Police",
        timeout=5_000,
    )
    page.fill("#text", page.input_value("#text") + " Diolch.")
    page.click("button[data-cmd=reply]")
    expect(page.locator("#outcome-msg")).to_contain_text("Done: replied", timeout=5_000)
    expect(page.locator("#thread li.outbound")).to_contain_text("Helo @gwen_cymru", timeout=10_000)

    # The reply reaches the (recorder) publisher; the workspace shows the delivery.
    def recorded() -> list[dict[str, str]]:
        if not platform.recorder.exists():
            return []
        return [json.loads(line) for line in platform.recorder.read_text().splitlines()]

    deadline = time.monotonic() + 30
    while not recorded() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert recorded()[0]["text"].startswith("Helo @gwen_cymru") and recorded()[0]["text"].endswith(
        "Diolch."
    )
    for _ in range(30):
        page.reload()
        if page.locator("#deliveries li.reply-delivered").count():
            break
        time.sleep(0.5)
    expect(page.locator("#deliveries li.reply-delivered")).to_have_count(1)
    expect(page.locator("#timeline")).to_contain_text("replied by op.merseyside")
    page.screenshot(path=str(SHOTS / "console-item.png"), full_page=True)
    page.select_option("#outcome", "signposted")
    page.click("button[data-cmd=resolve]")
    expect(page.locator("#outcome-msg")).to_contain_text("Done: resolved", timeout=5_000)
    expect(page.locator("#status")).to_have_text("resolved", timeout=10_000)

    # Sign out; the force admin reads the item's audit trail.
    page.click(".logout button")
    page.wait_for_url("**/login")
    sign_in(page, platform, "admin.merseyside")
    expect(page.locator("a[href='/audit']")).to_be_visible()
    wanted = ["item.opened", "item.claim", "item.reply", "item.resolve", "reply.delivered"]
    for _ in range(40):
        page.goto(f"{platform.console}/audit?target_id={welsh['id']}")
        text = page.locator("#audit").inner_text()
        if all(w in text for w in wanted):
            break
        time.sleep(0.5)
    for w in wanted:
        expect(page.locator("#audit")).to_contain_text(w)
    expect(page.locator("#audit")).to_contain_text("op.merseyside")
    assert not csp_errors, csp_errors
    page.close()


def test_supervisor_watches_the_board_reassigns_and_reads_a_report(
    platform: ConsolePlatform, browser: Browser
) -> None:
    r = platform.post_mentions(
        [mention("7101", "my elderly dad has not come home from the shops and it's 3 hours now")]
    )
    assert r.status_code == 200
    item = platform.wait_item("x:7101")
    platform.login("op.merseyside")  # signed in: online, so the board offers them
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in(page, platform, "sup.merseyside")
    page.click("nav a[href='/board']")
    page.wait_for_url("**/board")
    expect(page.locator("#live")).to_have_text("live", timeout=10_000)
    platform.produce("sla.events", item_key_of(item["id"]), sla_warning(item))
    sent = time.monotonic()
    row = page.locator(f"#at-risk tbody tr[data-id='{item['id']}']").first
    expect(row).to_be_visible(timeout=10_000)
    print(f"board row drawn {1000 * (time.monotonic() - sent):.0f} ms after the warning")
    expect(page.locator("#alerts")).to_contain_text("first response warning")
    expect(row.locator("time.countdown")).to_contain_text("m", timeout=5_000)
    # One click: the operator takes the item; the board shows the new owner.
    row = page.locator(f"#at-risk tbody tr[data-id='{item['id']}']").first
    expect(row.locator(".reassign select")).to_be_visible(timeout=10_000)
    row.locator(".reassign select").select_option("op.merseyside")
    row.locator(".reassign button").click()
    expect(page.locator("#reassign-msg")).to_contain_text(
        "Assigned to op.merseyside", timeout=10_000
    )
    owner = page.locator(f"#at-risk tbody tr[data-id='{item['id']}'] td.owner").first
    expect(owner).to_have_text("op.merseyside", timeout=10_000)
    expect(page.locator(f"#unassigned tbody tr[data-id='{item['id']}']")).to_have_count(0)
    expect(page.locator("#operators")).to_contain_text("op.merseyside")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "board.png"), full_page=True)

    # A report: charts with text alternatives, the figures of today's contact.
    page.click("nav a[href='/reports']")
    page.wait_for_url("**/reports")
    for _ in range(40):
        if "No contact was recorded" not in page.content():
            break
        time.sleep(0.5)
        page.reload()
    expect(page.locator("svg.chart title").first).to_be_attached()
    assert page.locator("svg.chart").count() >= 10
    expect(page.locator("#summary")).to_contain_text("items from the public")
    expect(page.locator("#volume-day rect.s1").first).to_be_attached(timeout=10_000)
    expect(page.locator("#csv")).to_have_attribute("href", re.compile(r"/api/reports/export\.csv"))
    page.screenshot(path=str(SHOTS / "report.png"), full_page=True)
    # An inverted period is refused with a message, not an error page.
    page.fill("input[name=start]", "2026-03-10")
    page.fill("input[name=end]", "2026-03-01")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#period-error")).to_contain_text("starts")
    assert not csp_errors, csp_errors
    page.close()

"""The publishing desk in Chromium (issue 22), on the whole local platform: a
communications officer composes, an approver approves or refuses (with a reason the
author sees), posts are scheduled in UK time and published now through outbound to the
(fake) X API; bad input (over X's limit, an image without alt text, an approval by the
author) gets a clear message next to the field and nothing is sent. Saves the
screenshots docs/screenshots/publishing-*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from socialdesk.topics import POSTS_COMMANDS

from .stack import ConsolePlatform, console_platform, mention, sign_in
from .test_accessibility import Audit, new_context

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("publishing"))) as p:
        yield p


def as_user(browser: Browser, p: ConsolePlatform, username: str) -> tuple[BrowserContext, Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    sign_in(page, p, username)
    return ctx, page


def wait_until(check: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"never happened: {what}")


def posts(p: ConsolePlatform) -> list[dict[str, Any]]:
    return p.search("posts", {"match_all": {}}, size=500)


def post_with(p: ConsolePlatform, text: str) -> dict[str, Any] | None:
    for doc in posts(p):
        if any(text in t for t in (doc.get("draft") or {}).get("text", {}).values()):
            return doc
    return None


def wait_post(p: ConsolePlatform, text: str, status: str, within: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = post_with(p, text)
        return doc if doc and doc["status"] == status else None

    found: dict[str, Any] = wait_until(check, within, f"post {text!r} {status}")
    return found


def compose(page: Page, p: ConsolePlatform, text: str, **opts: Any) -> None:
    """Fill the compose form: X account, objective, kind, text, the checklist."""
    page.goto(p.console + "/publishing/new")
    page.check("input[name=accounts][value='x:MerseyPolice']")
    page.select_option("#f-objective", opts.get("objective", "appeal"))
    page.select_option("#f-kind", opts.get("kind", "appeal"))
    page.fill("#f-expected_measure", "Calls to 101 quoting the reference")
    page.fill("#f-text-x", text)
    if opts.get("image"):
        page.fill("#f-media-0-url", "https://www.merseyside.police.uk/appeal/bike.jpg")
        page.fill("#f-media-0-alt_text", opts.get("alt", ""))
    if opts.get("names_person"):
        page.check("input[name=names_person]")
    if opts.get("checklist", True):
        for box in page.locator("#f-checklist input[type=checkbox]").all():
            box.check()


def sent(page: Page, step: str) -> None:
    """Back on the desk after a press that sent something (`?sent=<step>`)."""
    page.wait_for_url(re.compile(rf"/publishing\?sent={step}$"))


def open_post(page: Page, p: ConsolePlatform, post_id: str) -> None:
    page.goto(f"{p.console}/publishing/posts/{post_id}")


def commands_sent(p: ConsolePlatform) -> int:
    """Records on posts.commands so far (every partition's end offset)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=p.stack.kafka)
    try:
        topic = p.prefix + POSTS_COMMANDS
        parts = [TopicPartition(topic, n) for n in consumer.partitions_for_topic(topic) or []]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def test_compose_approve_schedule_and_publish(platform: ConsolePlatform, browser: Browser) -> None:
    p = platform
    author_ctx, author = as_user(browser, p, "comms.merseyside")
    appeal = (
        "APPEAL | Did you see a red bike taken from Lark Lane on Friday at 6pm? "
        "Call 101 quoting 24000123."
    )
    compose(author, p, appeal, image=True, alt="A red mountain bike against railings")
    expect(author.locator("#count-text-x")).to_contain_text("of 280 characters")
    # Only the ticked platforms' texts are shown (Merseyside also has Facebook).
    expect(author.locator("fieldset.texts[data-platform=facebook]")).to_be_hidden()
    expect(author.locator("fieldset.texts[data-platform=x]")).to_be_visible()
    author.screenshot(path=str(SHOTS / "publishing-compose.png"), full_page=True)
    author.click("#act-submit")
    sent(author, "submit")
    expect(author.locator("#desk-msg")).to_contain_text("Sent for approval")
    doc = wait_post(p, appeal, "awaiting_approval")
    assert doc["approval_reasons"] and doc["author"]["id"] == "comms.merseyside"

    # The approver sees why it needs approval and the author's ticks, and approves.
    approver_ctx, approver = as_user(browser, p, "approver.merseyside")
    approver.goto(p.console + "/publishing")
    expect(approver.locator("#posts-awaiting")).to_contain_text("red bike")
    approver.click(f"[data-post-id='{doc['id']}'] a")
    expect(approver.locator("#approval-reasons")).to_contain_text("appeal posts need approval")
    expect(approver.locator("#checklist-ticks .ticked")).to_have_count(4)
    image = approver.locator("#post-images a")  # the approver opens the picture to check it
    expect(image).to_have_attribute("href", "https://www.merseyside.police.uk/appeal/bike.jpg")
    approver.screenshot(path=str(SHOTS / "publishing-approval.png"), full_page=True)
    approver.check("#checklist-seen")
    approver.click("#approve")
    sent(approver, "approve")
    wait_post(p, appeal, "approved")

    # Every view and step is in the audit trail, by whom, on which post.
    def audited() -> bool:
        found = {
            (a["actor_id"], a["action"])
            for a in p.search("audit", {"term": {"target_id": doc["id"]}}, size=200)
        }
        return {
            ("comms.merseyside", "post.submit"),
            ("approver.merseyside", "post.viewed"),
            ("approver.merseyside", "post.approve"),
        } <= found

    wait_until(audited, 60, "the submission, the approver's view and approval audited")

    # The author schedules it for tomorrow 09:30 UK time: stored in UTC, shown in UK time.
    when = (datetime.now(LONDON) + timedelta(days=1)).replace(hour=9, minute=30)
    open_post(author, p, doc["id"])
    author.fill("#f-text-x", appeal + " Thank you.")  # not what was approved: refused
    author.click("#act-publish")
    expect(author.locator("#f-approval")).to_contain_text("approved as it was")
    author.fill("#f-text-x", appeal)
    author.fill("#f-publish_at", when.strftime("%Y-%m-%dT%H:%M"))
    author.click("#act-schedule")
    sent(author, "schedule")
    scheduled = wait_post(p, appeal, "scheduled")
    stored = datetime.fromisoformat(scheduled["publish_at"])
    assert stored == when.replace(second=0, microsecond=0).astimezone(UTC)
    author.goto(p.console + "/publishing")
    expect(author.locator("#posts-scheduled")).to_contain_text(when.strftime("%Y-%m-%d 09:30"))

    # Prevention advice needs no approval: published now, from the account, on X.
    advice = (
        "Lock your bike to something solid and register it for free: "
        "most stolen bikes are never recovered."
    )
    compose(author, p, advice, objective="prevent", kind="prevention")
    author.click("#act-publish")
    sent(author, "publish")
    published = wait_post(p, advice, "published", within=90)
    assert [d["status"] for d in published["deliveries"]] == ["delivered"]
    assert any(advice in c["body"]["text"] for c in p.x_api.calls)
    assert not any("red bike" in c["body"]["text"] for c in p.x_api.calls)  # still scheduled
    author.goto(p.console + "/publishing")
    expect(author.locator("#posts-published")).to_contain_text("Lock your bike")
    author.screenshot(path=str(SHOTS / "publishing-desk.png"), full_page=True)

    # A new time: one in the past is refused on the page; a later one is kept.
    open_post(author, p, doc["id"])
    author.fill("#f-publish_at", "2020-01-01T09:00")
    author.click("#act-reschedule")
    expect(author.locator("#when-error")).to_contain_text("choose a time in the future")
    later = when + timedelta(days=1, hours=1)
    author.fill("#f-publish_at", later.strftime("%Y-%m-%dT%H:%M"))
    author.click("#act-reschedule")
    sent(author, "schedule")

    def moved() -> bool:
        doc_now = post_with(p, appeal) or {}
        at = doc_now.get("publish_at")
        return bool(at) and datetime.fromisoformat(at) == later.replace(
            second=0, microsecond=0
        ).astimezone(UTC)

    wait_until(moved, 60, "the appeal rescheduled")

    # The scheduled appeal is withdrawn: it never goes out.
    open_post(author, p, doc["id"])
    author.click("#act-cancel")
    sent(author, "cancel")
    wait_post(p, appeal, "cancelled")
    author.goto(p.console + "/publishing")
    expect(author.locator("#posts-scheduled")).to_have_count(0)
    assert not any("red bike" in c["body"]["text"] for c in p.x_api.calls)
    author_ctx.close()
    approver_ctx.close()


def test_a_refused_approval_goes_back_to_the_author_with_the_reason(
    platform: ConsolePlatform, browser: Browser
) -> None:
    p = platform
    author_ctx, author = as_user(browser, p, "comms.merseyside")
    text = "John Smith, 34, of Anfield has been charged with burglary and will appear at court."
    compose(author, p, text, objective="warn_inform", kind="court_result", names_person=True)
    author.click("#act-submit")
    sent(author, "submit")
    doc = wait_post(p, text, "awaiting_approval")

    approver_ctx, approver = as_user(browser, p, "approver.merseyside")
    open_post(approver, p, doc["id"])
    expect(approver.locator("#approval-reasons")).to_contain_text("it names a person")
    before = commands_sent(p)
    approver.click("#refuse")  # no reason: refused on the page, nothing sent
    expect(approver.locator("#decision-error")).to_contain_text("say why you refuse it")
    assert commands_sent(p) == before
    # By keyboard, in the page's order: the checklist box, the reason, Approve, Refuse.
    approver.focus("#checklist-seen")
    approver.keyboard.press("Tab")
    expect(approver.locator("#refuse-reason")).to_be_focused()
    approver.keyboard.type("Charged, not convicted: say 'charged' and drop the age.")
    approver.keyboard.press("Tab")
    expect(approver.locator("#approve")).to_be_focused()
    approver.keyboard.press("Tab")
    expect(approver.locator("#refuse")).to_be_focused()
    approver.keyboard.press("Enter")
    sent(approver, "refuse")
    back = wait_post(p, text, "draft")
    assert back["approvals"][-1]["decision"] == "refused"

    author.goto(p.console + "/publishing")
    card = author.locator(f"[data-post-id='{doc['id']}']")
    expect(card).to_contain_text("Refused: Charged, not convicted")
    card.locator("a").click()
    expect(author.locator("#refused-reason")).to_contain_text("drop the age")
    author.screenshot(path=str(SHOTS / "publishing-refused.png"), full_page=True)
    author_ctx.close()
    approver_ctx.close()


def test_bad_input_is_shown_next_to_the_field_and_nothing_is_sent(
    platform: ConsolePlatform, browser: Browser
) -> None:
    p = platform
    ctx, page = as_user(browser, p, "comms.merseyside")
    before, posts_before, x_calls = commands_sent(p), len(posts(p)), len(p.x_api.calls)

    # Over X's limit (a link counts as 23), and an image without alt text.
    long_text = "Road closed on the A5036 near Church Road. " * 7
    compose(page, p, long_text, objective="warn_inform", kind="road_closure", image=True, alt="")
    page.click("#act-publish")
    alert = page.locator("#err-text-x")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("X allows 280")
    expect(page.locator("#f-text-x")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-media-0-alt_text")).to_contain_text("add alt text")
    expect(page.locator("#problems")).to_contain_text("Nothing was sent")
    page.screenshot(path=str(SHOTS / "publishing-bad-input.png"), full_page=True)
    assert page.locator("#f-text-x").input_value() == long_text  # the author's text is kept

    # An approver cannot approve their own post.
    approver_ctx, approver = as_user(browser, p, "approver.merseyside")
    own = "APPEAL | Witnesses sought after a collision on Queens Drive on Sunday night. Call 101."
    compose(approver, p, own)
    approver.click("#act-submit")
    sent(approver, "submit")
    doc = wait_post(p, own, "awaiting_approval")
    sent_so_far = commands_sent(p)
    open_post(approver, p, doc["id"])
    expect(approver.locator("#own-post")).to_contain_text("another approver")
    approver.check("#checklist-seen")
    approver.click("#approve")
    expect(approver.locator("#decision-error")).to_contain_text(
        "you wrote this post: another approver must decide on it"
    )
    assert commands_sent(p) == sent_so_far
    assert wait_post(p, own, "awaiting_approval")["approvals"] == []

    # Nothing of the bad post reached outbound, the index or the platform.
    assert commands_sent(p) == before + 2  # the approver's own post: saved, submitted
    assert len(posts(p)) == posts_before + 1
    assert len(p.x_api.calls) == x_calls
    ctx.close()
    approver_ctx.close()


def test_templates_and_campaigns_prefill_compose_and_impact_shows_objectives(
    platform: ConsolePlatform, browser: Browser
) -> None:
    p = platform
    ctx, page = as_user(browser, p, "comms.merseyside")
    page.goto(p.console + "/publishing")
    page.select_option("#template-choice", "road-closure")
    page.click("#from-template button")
    expect(page.locator("#f-text-x")).to_have_value(
        "ROAD CLOSED | [Road] is closed [between junctions / at place] due to [reason]. "
        "Please avoid the area and use [diversion]. We will update when it reopens."
    )
    expect(page.locator("#f-objective")).to_have_value("warn_inform")
    expect(page.locator("#f-kind")).to_have_value("road_closure")
    expect(page.locator("#rule-hint")).to_have_text(
        "In this force an approver must approve: appeal posts; court result posts; "
        "posts that name a person; posts marked sensitive."
    )

    page.goto(p.console + "/publishing/campaigns?objective=prevent")
    expect(page.locator("#campaigns > li")).to_have_count(4)
    expect(page.locator("#campaign-fraud-stop-challenge")).to_contain_text("illustrative")
    page.screenshot(path=str(SHOTS / "publishing-campaigns.png"), full_page=True)
    page.click("#adopt-fraud-stop-challenge")
    expect(page.locator("#adopted")).to_contain_text("fraud-stop-challenge")
    expect(page.locator("#f-text-x")).to_contain_text("Stop. Challenge. Protect.")
    expect(page.locator("#f-media-0-alt_text")).to_have_value(
        "An older woman at her front door, holding the phone away from her ear and frowning."
    )

    # A post, then the public: a reply in its thread and a report on the same subject.
    advice = "Keep valuables out of sight in parked cars: most thefts from cars take seconds."
    compose(page, p, advice, objective="prevent", kind="prevention")
    page.click("#act-publish")
    sent(page, "publish")
    post = wait_post(p, advice, "published", within=90)
    tweet_id = post["deliveries"][0]["platform_id"]
    reply = mention("9101", "someone stole my bike from outside the gym on Bold Street")
    reply["conversation_id"] = reply["in_reply_to_id"] = tweet_id
    other = mention("9102", "my car was broken into last night and my laptop stolen")
    assert p.post_mentions([reply, other]).status_code == 200
    api = p.login("comms.merseyside")

    def followed() -> dict[str, Any] | None:
        rows = {r["objective"]: r for r in api.get("/api/publishing/impact").json()["objectives"]}
        row = rows["prevent"]
        return row if row["thread_mentions"] >= 1 and row["contact_after"] >= 2 else None

    row = wait_until(followed, 120, "the reply and the report counted after the post")
    assert row["posts"] >= 1 and row["contact_before"] == 0
    open_post(page, p, post["id"])  # the post's own page: what the public said back
    expect(page.locator("#thread-mentions")).to_have_text(
        re.compile(r"^Mentions from the public in its threads so far: [1-9]")
    )
    # A post adopted from the library is counted under its campaign.
    ticks = {
        c: True for c in ("contempt_of_court", "victims_children", "sub_judice", "personal_data")
    }
    adopted = {
        "objective": "prevent",
        "kind": "prevention",
        "accounts": [{"platform": "x", "handle": "MerseyPolice"}],
        "text": {"x": "Stop. Challenge. Protect. Your bank will never ask you to move money."},
        "checklist": ticks,
        "campaign_id": "fraud-stop-challenge",
    }
    assert api.post("/api/posts", json={"action": "publish", "draft": adopted}).status_code in (
        200,
        202,
    )
    wait_post(p, "Your bank will never ask you to move money", "published", within=90)
    campaigns = api.get("/api/publishing/impact").json()["campaigns"]
    assert campaigns["fraud-stop-challenge"]["posts"] == 1
    page.goto(p.console + "/publishing/impact")
    expect(page.locator("#impact-campaign-fraud-stop-challenge")).to_contain_text(
        "Take a moment: stop, challenge, protect"
    )
    expect(page.locator("#impact-prevent")).to_contain_text(str(row["thread_mentions"]))
    expect(page.locator("figure.chart svg")).to_have_count(2)
    national = p.login("national.viewer").get("/api/publishing/impact").json()
    assert national["by_force"]["merseyside"]["prevent"] >= 1
    page.screenshot(path=str(SHOTS / "publishing-impact.png"), full_page=True)
    ctx.close()


def test_the_api_refuses_bad_posts_with_every_problem_and_sends_nothing(
    platform: ConsolePlatform,
) -> None:
    p = platform
    api = p.login("comms.merseyside")
    ok = {"objective": "engage", "accounts": [{"platform": "x", "handle": "MerseyPolice"}]}
    saved = api.post("/api/posts", json={"action": "save", "draft": ok})
    assert saved.status_code in (200, 202), saved.text
    mine = saved.json()["post_id"]
    wait_until(lambda: any(d["id"] == mine for d in posts(p)), 60, "the draft indexed")
    before = commands_sent(p)
    ticks = {
        c: True for c in ("contempt_of_court", "victims_children", "sub_judice", "personal_data")
    }
    draft = {
        "objective": "warn_inform",
        "kind": "road_closure",
        "accounts": [
            {"platform": "x", "handle": "MerseyPolice"},
            {"platform": "x", "handle": "NWPolice"},
        ],
        "text": {"x": "Road closed. " * 30},
        "media": [{"url": "https://www.merseyside.police.uk/a.jpg", "alt_text": ""}],
        "checklist": ticks,
    }
    r = api.post("/api/posts", json={"action": "publish", "draft": draft})
    assert r.status_code == 422
    body = r.json()
    assert "nothing was sent" in body["error"]
    problems = {(x["field"], x["message"]) for x in body["problems"]}
    assert ("accounts", "unknown account x:NWPolice for this force") in problems
    assert ("text.x", "389 characters; x allows 280") in problems
    assert ("media.0.alt_text", "add alt text") in problems
    # No CSRF header: refused before anything is read; an operator has no desk.
    no_csrf = api.post(
        "/api/posts", json={"action": "save", "draft": draft}, headers={"X-CSRF-Token": ""}
    )
    assert no_csrf.status_code == 403
    operator = p.login("op.merseyside")
    assert operator.get("/api/posts").status_code == 403
    assert operator.get("/publishing").status_code == 403
    # Another force's post answers as a missing one.
    welsh = p.login("comms.north-wales")
    assert welsh.get(f"/publishing/posts/{mine}").status_code == 404
    assert api.get(f"/publishing/posts/{mine}").status_code == 200
    assert commands_sent(p) == before


def test_a_welsh_force_posts_welsh_and_english_together(
    platform: ConsolePlatform, browser: Browser
) -> None:
    p = platform
    ctx, page = as_user(browser, p, "comms.north-wales")
    page.goto(p.console + "/publishing/new")
    expect(page.locator("html")).to_have_attribute("lang", "cy")  # the force's language
    page.check("input[name=accounts][value='x:NWPolice']")
    page.select_option("#f-objective", "prevent")
    page.select_option("#f-kind", "prevention")
    english = "Lock your bike, even for a minute. Register it for free."
    welsh = "Cloiwch eich beic, hyd yn oed am funud. Cofrestrwch ef am ddim."
    page.fill("#f-text-x", english)
    page.click("#act-publish")  # no Welsh yet: refused next to the Welsh field
    expect(page.locator("#err-text_cy-x")).to_be_visible()
    expect(page.locator("#f-text_cy-x")).to_have_attribute("lang", "cy")
    page.fill("#f-text_cy-x", welsh)
    together = len(welsh) + 2 + len(english)  # one message: Welsh, a blank line, English
    expect(page.locator("#count-text-x")).to_have_text(
        f"{together} o 280 nod, y Gymraeg a'r Saesneg gyda'i gilydd"
    )
    for box in page.locator("#f-checklist input[type=checkbox]").all():
        box.check()
    page.screenshot(path=str(SHOTS / "publishing-compose-welsh.png"), full_page=True)
    page.click("#act-publish")
    sent(page, "publish")
    wait_post(p, english, "published", within=90)
    texts = [c["body"]["text"] for c in p.x_api.calls]
    assert f"{welsh}\n\n{english}" in texts  # one message, Welsh first
    ctx.close()


def test_an_account_we_cannot_post_to_is_a_task_to_post_by_hand(
    platform: ConsolePlatform, browser: Browser
) -> None:
    """TikTok has no publisher: the X account posts, TikTok becomes a task (its text to
    copy, "Mark as posted by hand"), not a failure; recorded, the post is published."""
    p = platform
    ctx, page = as_user(browser, p, "comms.merseyside")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=p.console)
    on_x = "Two locks, something solid, every time: most stolen bikes are never recovered."
    on_tiktok = "Two locks. Something solid. Every time. Register your bike for free."
    compose(page, p, on_x, objective="prevent", kind="prevention")
    page.check("input[name=accounts][value='tiktok:merseysidepolice']")
    expect(page.locator("#by-hand-hint-tiktok")).to_contain_text("TikTok is posted by hand")
    page.fill("#f-text-tiktok", on_tiktok)
    page.click("#act-publish")
    sent(page, "publish")
    doc = wait_post(p, on_x, "by_hand", within=90)
    assert [(d["account"]["platform"], d["status"]) for d in doc["deliveries"]] == [
        ("x", "delivered"),
        ("tiktok", "by_hand"),
    ]
    page.goto(p.console + "/publishing")
    expect(page.locator(f"[data-post-id='{doc['id']}']")).to_contain_text("to post by hand")

    open_post(page, p, doc["id"])
    task = page.locator("#post-deliveries li[data-account='tiktok:merseysidepolice']")
    expect(task).to_contain_text("to post by hand")
    expect(task.locator("textarea")).to_have_value(on_tiktok)
    on_x_row = page.locator("#post-deliveries li[data-account='x:MerseyPolice']")
    expect(on_x_row).to_contain_text("posted")
    x_id = doc["deliveries"][0]["platform_id"]
    expect(on_x_row.get_by_role("link", name="view it on X")).to_have_attribute(
        "href", f"https://x.com/MerseyPolice/status/{x_id}"
    )
    page.screenshot(path=str(SHOTS / "publishing-by-hand.png"), full_page=True)
    audit, axe_ctx = Audit(), new_context(browser)  # axe needs its script in: CSP bypassed
    axe_page = axe_ctx.new_page()
    sign_in(axe_page, p, "comms.merseyside")
    open_post(axe_page, p, doc["id"])
    audit.check(axe_page, "post to post by hand")
    axe_ctx.close()
    audit.assert_clean()
    task.locator("button[data-copy]").click()
    expect(page.locator("#copy-msg")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == on_tiktok

    # An account that is not waiting (X went out): the page says so and nothing is sent.
    api = p.login("comms.merseyside")
    before = commands_sent(p)
    wrong = api.post(
        f"/publishing/posts/{doc['id']}/by-hand",
        data={"csrf": api.headers["X-CSRF-Token"], "account": "x:MerseyPolice"},
    )
    assert wrong.status_code == 409
    assert 'role="alert"' in wrong.text and "not waiting to be posted by hand" in wrong.text
    forged = api.post(
        f"/publishing/posts/{doc['id']}/by-hand",
        data={"csrf": "forged", "account": "tiktok:merseysidepolice"},
    )
    assert forged.status_code == 403
    assert commands_sent(p) == before

    task.locator("button[type=submit]").click()
    sent(page, "posted_by_hand")
    done = wait_post(p, on_x, "published")
    assert [d["status"] for d in done["deliveries"]] == ["delivered", "posted_by_hand"]
    open_post(page, p, doc["id"])
    expect(task).to_contain_text("posted by hand")
    expect(task.locator("button")).to_have_count(0)

    def audited() -> bool:
        found = {
            (a["actor_id"], a["action"])
            for a in p.search("audit", {"term": {"target_id": doc["id"]}}, size=200)
        }
        return ("comms.merseyside", "post.posted_by_hand") in found

    wait_until(audited, 60, "the post recorded by hand audited")
    # The platform saw the X post once and nothing else of it.
    assert sum(on_x in c["body"]["text"] for c in p.x_api.calls) == 1
    assert not any(on_tiktok in c["body"]["text"] for c in p.x_api.calls)
    ctx.close()


def test_a_scheduled_post_goes_back_to_draft_to_fix_a_typo(
    platform: ConsolePlatform, browser: Browser
) -> None:
    """A typo spotted after scheduling: back to draft from the post's page, fixed in
    compose, scheduled again; the old text never goes out."""
    p = platform
    ctx, page = as_user(browser, p, "comms.merseyside")
    typo = "Dark nights are here: lock your dorr and keep your keys out of sight."
    compose(page, p, typo, objective="prevent", kind="prevention")
    when = (datetime.now(LONDON) + timedelta(days=2)).replace(hour=18, minute=0)
    page.fill("#f-publish_at", when.strftime("%Y-%m-%dT%H:%M"))
    page.click("#act-schedule")
    sent(page, "schedule")
    doc = wait_post(p, typo, "scheduled")
    open_post(page, p, doc["id"])
    page.click("#act-reopen")
    sent(page, "reopen")
    expect(page.locator("#desk-msg")).to_contain_text("Back in drafts")
    wait_post(p, typo, "draft")
    page.goto(p.console + "/publishing")
    page.locator(f"#posts-drafts [data-post-id='{doc['id']}'] a").click()
    fixed = typo.replace("dorr", "door")
    page.fill("#f-text-x", fixed)
    page.fill("#f-publish_at", when.strftime("%Y-%m-%dT%H:%M"))
    page.click("#act-schedule")
    sent(page, "schedule")
    again = wait_post(p, fixed, "scheduled")
    assert again["id"] == doc["id"] and post_with(p, typo) is None
    assert not any("lock your d" in c["body"]["text"] for c in p.x_api.calls)
    ctx.close()

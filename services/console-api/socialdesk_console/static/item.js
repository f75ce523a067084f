// The item workspace: actions go as commands through the JSON API and the outcome (or
// the rejection reason) shows as soon as the item's owner service answers; replies are
// previewed from templates, edited, checked against the platform's limit, then sent.
(function () {
  const ws = document.getElementById("workspace");
  if (!ws) return;
  const itemId = ws.dataset.item;
  const limit = parseInt(ws.dataset.limit, 10);
  const { api } = window.sd;
  const t = window.sdT;
  const msg = document.getElementById("outcome-msg");
  const text = document.getElementById("text");
  const chars = document.getElementById("chars");
  const base = `/api/items/${encodeURIComponent(itemId)}`;
  function show(t, cls) { if (msg) { msg.textContent = t; msg.className = "outcome-msg " + (cls || ""); } }
  function count() {
    if (!text) return;
    chars.textContent = `${text.value.length} / ${limit}`;
    chars.classList.toggle("over", text.value.length > limit);
  }
  // The reply being written survives the reload after each action (claim, re-grade...).
  const DRAFT = `sd.draft.${itemId}`;
  const keep = () => { try { sessionStorage.setItem(DRAFT, text.value); } catch (e) { /* no storage */ } };
  const drop = () => { try { sessionStorage.removeItem(DRAFT); } catch (e) { /* no storage */ } };
  if (text) {
    try { const d = sessionStorage.getItem(DRAFT); if (d && !text.value) text.value = d; } catch (e) { /* no storage */ }
    text.addEventListener("input", () => { count(); keep(); });
  }
  const tpl = document.getElementById("template");
  if (tpl) {
    // Welsh contact is answered in Welsh: put that language's templates first.
    const lang = ws.dataset.lang;
    const first = [...tpl.options].find((o) => o.dataset.lang === lang);
    if (first && lang === "cy") tpl.value = first.value;
  }
  // Arrow keys through the template list preview each one: only the last answer counts.
  let asked = 0;
  async function preview() {
    if (!tpl.value) return;
    const mine = ++asked;
    const [id, language] = tpl.value.split("|");
    const variables = {};
    const ref = document.getElementById("tpl_crime_reference").value;
    if (ref) variables.crime_reference = ref;
    const { status, data } = await api(`${base}/replies/preview`, { method: "POST", body: { template_id: id, language, variables } });
    if (mine !== asked) return;
    // The reply is marked with its language: read and spell-checked as Welsh or English.
    if (status === 200) { text.value = data.text; text.lang = language; count(); keep(); show(data.fits ? t("Preview ready: edit if needed, then send.") : t("Too long for {platform}: {length}/{limit}", { platform: ws.dataset.platform, length: data.length, limit: data.limit }), data.fits ? "" : "bad"); }
    else show(t("Template problem: {error}", { error: data.error }), "bad");
  }
  const pv = document.getElementById("preview");
  if (pv) pv.addEventListener("click", preview);
  if (tpl) tpl.addEventListener("change", preview);
  const box = document.getElementById("actions");
  async function act(e) {
    const cmd = e.target.dataset && e.target.dataset.cmd;
    if (!cmd) return;
    e.preventDefault();
    const v = (id) => document.getElementById(id).value;
    let path = `${base}/commands`, body = { type: cmd, payload: {} };
    if (cmd === "reply") {
      const [template_id, language] = (tpl.value || "|").split("|");
      path = `${base}/reply`;
      body = { text: v("text"), template_id: template_id || null, language: language || null };
    }
    if (cmd === "hand_over") { path = `${base}/handover`; body = { reason: v("handover_reason") || null }; }
    if (cmd === "note") body.payload.text = v("text");
    if (cmd === "regrade") body.payload = { priority: v("priority"), reason: v("regrade_reason") };
    if (cmd === "recategorise") body.payload = { intent: v("intent"), flags: [...document.getElementById("flags").selectedOptions].map((o) => o.value) };
    if (cmd === "transfer") body.payload = { force: v("transfer_force"), team: v("transfer_team") };
    if (cmd === "resolve") { body.payload.outcome = v("outcome"); if (v("crime_reference")) body.payload.crime_reference = v("crime_reference"); }
    if (cmd === "sent_by_hand") body.payload.reply_event_id = e.target.dataset.reply;
    show(t("Sending…"));
    const started = performance.now();
    const { status, data } = await api(path, { method: "POST", body });
    const ms = Math.round(performance.now() - started);
    if (status === 200) {
      if (cmd === "reply" || cmd === "note") drop();
      show(t("Done: {action} ({ms} ms)", { action: window.sdL(data.event.type), ms }), "ok"); setTimeout(() => location.reload(), 1200);
    }
    else if (status === 409) show(t("Not done: {reason}", { reason: data.reason }), "bad");
    else if (status === 202) show(t("Sent; the outcome is taking longer than usual."));
    else show(t("Error: {error}", { error: data.error || status }), "bad");
  }
  if (box) box.addEventListener("click", act);
  // A reply outbound cannot send: copy its text to post by hand, then record it.
  const sent = document.getElementById("deliveries");
  if (sent) sent.addEventListener("click", async (e) => {
    const copy = e.target.dataset && e.target.dataset.copy;
    if (!copy) return act(e);
    const area = document.getElementById(copy);
    area.select();
    try { await navigator.clipboard.writeText(area.value); } catch (err) { document.execCommand("copy"); }
    show(t("Copied: post it on the platform, then mark it as sent by hand."), "ok");
  });
  // Who else has this item open (collision warning), and live changes to it.
  const me = document.getElementById("who").dataset.username;
  function viewers(list) {
    const others = list.filter((x) => x.username !== me);
    // Never hidden (a hidden live region is not announced); empty, it takes no space.
    const c = document.getElementById("collision");
    c.textContent = others.length ? t("Also viewing now: {names}. Check before you act.", { names: others.map((x) => x.display_name).join(", ") }) : "";
  }
  if (window.EventSource) {
    const live = new EventSource(`/api/stream?item=${encodeURIComponent(itemId)}`);
    live.addEventListener("viewers", (e) => viewers(JSON.parse(e.data).viewers));
    live.addEventListener("item", (e) => {
      const ch = JSON.parse(e.data);
      if (ch.type === "created" && ch.priority === "P1") window.sd.alarmP1(ch);
      if (ch.item_id === itemId && ch.actor !== me) show(t("Changed by {who}: {change}. Reload to see it.", { who: ch.actor, change: window.sdL(ch.type) }), "bad");
    });
  }
  count();
})();

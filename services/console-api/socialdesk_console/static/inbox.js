// Keeps the inbox and its counters current through the JSON API, driven by the live
// stream (server-sent events); a new P1 raises a banner and a sound.
(function () {
  const table = document.getElementById("inbox");
  if (!table) return;
  const view = table.dataset.view;
  const query = table.dataset.query;
  const seen = new Set([...table.querySelectorAll("tr[data-id]")].map((r) => r.dataset.id));
  const { el } = window.sd;
  const t = window.sdT;
  function td(child) { const c = el("td"); if (typeof child === "string") c.textContent = child; else if (child) c.appendChild(child); return c; }
  function row(it) {
    const tr = el("tr", it.priority + (seen.has(it.id) ? "" : " new-row"));
    tr.dataset.id = it.id;
    tr.appendChild(td(el("span", "grade " + it.priority, it.priority)));
    if (it.sla_due) { const t = el("time", "due", it.sla_due.slice(11, 16)); t.setAttribute("datetime", it.sla_due); tr.appendChild(td(t)); }
    else tr.appendChild(td("…"));
    const rec = el("time", "", (it.created_at || "").slice(11, 19)); rec.setAttribute("datetime", it.created_at);
    tr.appendChild(td(rec));
    tr.appendChild(td(it.platform + " · @" + (it.author_handle || it.author_id)));
    const a = el("a", "", (it.text || "").slice(0, 140) || t("(no text)")); a.href = "/items/" + encodeURIComponent(it.id);
    // Marked when its language is not the page's: Welsh on an English page and the reverse.
    const lang = it.language === "cy" || (it.flags || []).includes("welsh_language") ? "cy" : (it.language || "en");
    if (it.text && /^[a-z]{2,3}$/.test(lang) && lang !== document.documentElement.lang) a.lang = lang;
    tr.appendChild(td(a));
    const intent = td(window.sdL(it.intent));
    (it.flags || []).forEach((f) => { intent.appendChild(document.createTextNode(" ")); intent.appendChild(el("span", "flag", window.sdL(f))); });
    tr.appendChild(intent);
    tr.appendChild(td(it.team || ""));
    tr.appendChild(td(it.owner || "—"));
    return tr;
  }
  async function refresh() {
    try {
      const { status, data } = await window.sd.api(`/api/items?view=${encodeURIComponent(view)}${query ? "&" + query : ""}`);
      if (status !== 200) return;
      const body = table.tBodies[0];
      // The rows are redrawn: focus stays on the same item's row (or where it was).
      const active = document.activeElement;
      const was = active && body.contains(active) ? active.closest("tr") : null;
      const wasId = was ? was.dataset.id : null, wasAt = was ? was.sectionRowIndex : -1;
      body.textContent = "";
      if (!data.items.length) { const tr = el("tr", "empty"); const c = el("td", "", t("Nothing open in this view.")); c.colSpan = 8; tr.appendChild(c); body.appendChild(tr); }
      data.items.forEach((it) => body.appendChild(row(it)));
      data.items.forEach((it) => seen.add(it.id));
      if (was) {
        const again = [...body.rows].find((r) => r.dataset.id === wasId) || body.rows[Math.min(wasAt, body.rows.length - 1)];
        const link = again && again.querySelector("a");
        if (link) link.focus({ preventScroll: true });
      }
      table.dispatchEvent(new CustomEvent("sd:redrawn"));
      document.getElementById("count").textContent = t("{n} in this view", { n: data.total });
      document.querySelectorAll(".counter").forEach((c) => { c.textContent = data.counts[c.dataset.view]; });
      document.title = t("Inbox") + ` (${data.counts.all_open}) · socialdesk`;
    } catch (e) { /* network blip: try again next tick */ }
  }
  // A change reaches the stream before the search index has it (the index refreshes
  // about once a second): refresh at once, and again when the index has caught up.
  let pending = null, later = null;
  const soon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
    clearTimeout(later); later = setTimeout(refresh, 1600);
  };
  if (window.EventSource) {
    const live = new EventSource("/api/stream");
    live.addEventListener("item", (e) => {
      const change = JSON.parse(e.data);
      const me = (document.getElementById("who") || { dataset: {} }).dataset.username;
      if (change.type === "created" && change.priority === "P1") window.sd.alarmP1(change);
      else if (change.type === "routed" && (change.notify || []).includes(me)) window.sd.alarmP1(change);
      else if (change.regraded_to === "P1") window.sd.alarmP1(change);  // escalated by a follow-up or merge
      soon();
    });
    live.addEventListener("open", () => { document.getElementById("live").textContent = t("live"); });
    live.addEventListener("error", () => { document.getElementById("live").textContent = t("reconnecting…"); });
  }
  setInterval(refresh, 15000);  // a safety net if the stream drops
})();

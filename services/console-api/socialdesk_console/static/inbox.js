// Keeps the inbox current through the JSON API, driven by the live stream, and
// highlights new rows.
(function () {
  const table = document.getElementById("inbox");
  if (!table) return;
  const view = table.dataset.view;
  const seen = new Set([...table.querySelectorAll("tr[data-id]")].map((r) => r.dataset.id));
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  function row(it) {
    const flags = (it.flags || []).map((f) => ` <span class="flag">${esc(f.replace(/_/g, " "))}</span>`).join("");
    const due = it.sla_first_response ? `<time class="due" datetime="${esc(it.sla_first_response.deadline)}">${esc(it.sla_first_response.deadline.slice(11, 16))}</time>` : "…";
    const isNew = !seen.has(it.id);
    return `<tr class="${esc(it.priority)}${isNew ? " new-row" : ""}" data-id="${esc(it.id)}">` +
      `<td><span class="grade ${esc(it.priority)}">${esc(it.priority)}</span></td>` +
      `<td><time datetime="${esc(it.created_at)}">${esc(it.created_at.slice(11, 19))}</time></td>` +
      `<td>${esc(it.platform)} · @${esc(it.author_handle || it.author_id)}</td>` +
      `<td><a href="/items/${encodeURIComponent(it.id)}">${esc((it.text || "").slice(0, 140))}</a></td>` +
      `<td>${esc(it.intent.replace(/_/g, " "))}${flags}</td><td>${esc(it.team)}</td>` +
      `<td>${esc(it.owner || "—")}</td><td>${due}</td></tr>`;
  }
  async function refresh() {
    try {
      const r = await fetch(`/api/items?view=${encodeURIComponent(view)}`, { credentials: "same-origin" });
      if (r.status === 401) { location.href = "/login"; return; }
      if (!r.ok) return;
      const data = await r.json();
      const newP1 = data.items.some((it) => !seen.has(it.id) && it.priority === "P1");
      table.tBodies[0].innerHTML = data.items.length ? data.items.map(row).join("") :
        '<tr class="empty"><td colspan="8">Nothing open in this view.</td></tr>';
      data.items.forEach((it) => seen.add(it.id));
      document.getElementById("count").textContent = `${data.total} open`;
      if (newP1) document.getElementById("live").textContent = "New P1 — look now";
    } catch (e) { /* network blip: try again next tick */ }
  }
  // Live: the console streams every change to this force's items (server-sent events);
  // a change refreshes the list at once, and a new P1 raises a visible and audible alert.
  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150); };
  function beep() {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio: the banner still shows */ }
  }
  if (window.EventSource) {
    const live = new EventSource("/api/stream");
    live.addEventListener("item", (e) => {
      const change = JSON.parse(e.data);
      if (change.type === "created" && change.priority === "P1") {
        document.getElementById("live").textContent = "New P1 — look now";
        beep();
      }
      soon();
    });
  }
  setInterval(refresh, 15000);  // a safety net if the stream drops
})();

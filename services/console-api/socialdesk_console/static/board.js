// The live SLA board: a warning or breach from the stream is drawn at once (row and
// alert), then the whole board is fetched again once the index has caught up.
(function () {
  const root = document.getElementById("board");
  if (!root) return;
  const { el, api } = window.sd;
  const t = window.sdT;
  let operators = [];
  // A supervisor's pick survives the board being redrawn under their cursor.
  const chosen = {};
  const label = window.sdL;
  // A text in another language than the page's is marked with its own (WCAG 3.1.2).
  function mark(a, lang) { if (lang && lang !== document.documentElement.lang) a.lang = lang; return a; }
  function countdown(deadline) { const t = el("time", "countdown"); if (deadline) t.setAttribute("datetime", deadline); return t; }
  function td(child, cls) { const c = el("td", cls || ""); if (typeof child === "string" || typeof child === "number") c.textContent = String(child); else if (child) c.appendChild(child); return c; }
  function reassignCell(itemId, verb) {
    const c = el("td", "reassign");
    const online = operators.filter((p) => p.status === "online");
    if (!online.length) { c.textContent = t("no one online"); return c; }
    const sel = el("select"); sel.setAttribute("aria-label", t("operator for {item}", { item: itemId }));
    online.forEach((p) => { const o = el("option", "", `${p.operator} (${p.load})`); o.value = p.operator; sel.appendChild(o); });
    if (chosen[itemId] && online.some((p) => p.operator === chosen[itemId])) sel.value = chosen[itemId];
    sel.addEventListener("change", () => { chosen[itemId] = sel.value; });
    const b = el("button", "", verb || t("Reassign")); b.type = "button";
    b.addEventListener("click", async () => {
      b.disabled = true;
      const msg = document.getElementById("reassign-msg");
      const { status, data } = await api(`/api/items/${encodeURIComponent(itemId)}/commands`, { method: "POST", body: { type: "assign", payload: { operator: sel.value } } });
      msg.className = "outcome-msg " + (status === 200 ? "ok" : "bad");
      if (status === 200) delete chosen[itemId];
      msg.textContent = status === 200 ? t("Assigned to {operator}.", { operator: sel.value }) : status === 202 ? t("Sent; waiting for the outcome.") : t("Not assigned: {reason}", { reason: data.reason || data.error || status });
      b.disabled = false; soon();
    });
    c.appendChild(sel); c.appendChild(b);
    return c;
  }
  function riskRow(r, fresh) {
    const tr = el("tr", r.state + (fresh ? " fresh" : ""));
    tr.dataset.id = r.item_id; tr.dataset.clock = r.clock;
    tr.appendChild(td(el("span", "grade " + r.priority, r.priority)));
    tr.appendChild(td(countdown(r.deadline)));
    tr.appendChild(td(`${label(r.clock)} ${label(r.state)}`));
    tr.appendChild(td(r.team || ""));
    tr.appendChild(td(r.owner || "—", "owner"));
    const a = mark(el("a", "", r.text || r.item_id), r.text && r.language); a.href = "/items/" + encodeURIComponent(r.item_id);
    tr.appendChild(td(a));
    tr.appendChild(reassignCell(r.item_id));
    return tr;
  }
  // A redraw keeps focus on the same control of the same row: a supervisor tabbing to a
  // reassign list is not thrown back to the top of the page by each refresh.
  const rowKey = (tr) => (tr ? `${tr.dataset.id || ""}|${tr.dataset.clock || ""}|${tr.dataset.operator || ""}` : "");
  function keepFocus(tbody, redraw) {
    const active = document.activeElement;
    const was = active && tbody.contains(active) ? active.closest("tr") : null;
    const key = rowKey(was), tag = was ? active.tagName.toLowerCase() : "";
    redraw();
    if (!was) return;
    const again = [...tbody.rows].find((r) => rowKey(r) === key);
    const target = again && again.querySelector(tag);
    if (target) target.focus({ preventScroll: true });
  }
  function fill(tbody, rows, make, empty, cols) {
    keepFocus(tbody, () => {
      tbody.textContent = "";
      if (!rows.length) { const tr = el("tr", "empty"); const c = el("td", "", empty); c.colSpan = cols; tr.appendChild(c); tbody.appendChild(tr); return; }
      rows.forEach((r) => tbody.appendChild(make(r)));
    });
  }
  function alertItem(a) {
    const li = el("li", a.type);
    li.appendChild(el("time", "", (a.at || "").slice(11, 19)));
    li.appendChild(document.createTextNode(` ${a.priority} ${label(a.clock)} ${label(a.type)} · ${a.team} · `));
    const link = el("a", "", t("open")); link.href = "/items/" + encodeURIComponent(a.item_id); li.appendChild(link);
    return li;
  }
  function render(b) {
    operators = b.operators;
    document.getElementById("n-breached").textContent = b.totals.breached;
    document.getElementById("n-at-risk").textContent = b.totals.at_risk;
    document.getElementById("n-unassigned").textContent = b.totals.unassigned_p1_p2;
    const grades = ["P1", "P2", "P3", "P4"];
    fill(document.querySelector("#matrix tbody"), b.matrix, (row) => {
      const tr = el("tr"); tr.appendChild(td(row.team));
      grades.forEach((g) => { const c = row.grades[g]; tr.appendChild(td(c.at_risk, c.at_risk ? "at-risk" : "")); tr.appendChild(td(c.breached, c.breached ? "breached" : "")); });
      return tr;
    }, t("No teams."), 9);
    fill(document.querySelector("#at-risk tbody"), b.at_risk, (r) => riskRow(r, false), t("Nothing at risk: every clock is within its warning time."), 7);
    fill(document.querySelector("#unassigned tbody"), b.unassigned, (u) => {
      const tr = el("tr", u.priority); tr.dataset.id = u.id;
      tr.appendChild(td(el("span", "grade " + u.priority, u.priority)));
      tr.appendChild(td(u.first_response_due ? countdown(u.first_response_due) : ""));
      tr.appendChild(td(u.team || ""));
      const a = mark(el("a", "", u.text || u.id), u.text && u.language); a.href = "/items/" + encodeURIComponent(u.id); tr.appendChild(td(a));
      tr.appendChild(reassignCell(u.id, t("Assign")));
      return tr;
    }, t("No unassigned P1 or P2."), 5);
    fill(document.querySelector("#operators tbody"), b.operators, (p) => {
      const tr = el("tr"); tr.dataset.operator = p.operator; tr.dataset.status = p.status;
      tr.appendChild(td(p.operator)); tr.appendChild(td(label(p.status), "presence-" + p.status));
      tr.appendChild(td(p.load)); tr.appendChild(td((p.teams || []).join(", ")));
      return tr;
    }, t("No operator has signed in."), 4);
    window.sd.tick();  // countdowns show at once, not at the next second
  }
  async function refresh() {
    try { const { status, data } = await api("/api/board"); if (status === 200) render(data); } catch (e) { /* next tick */ }
  }
  function onAlert(a) {
    const list = document.getElementById("alerts");
    const empty = list.querySelector(".empty"); if (empty) empty.remove();
    list.insertBefore(alertItem(a), list.firstChild);
    const body = document.querySelector("#at-risk tbody");
    const old = body.querySelector(`tr[data-id="${CSS.escape(a.item_id)}"][data-clock="${CSS.escape(a.clock)}"]`);
    const row = riskRow({ item_id: a.item_id, clock: a.clock, state: a.type === "warning" ? "warning" : "breached", deadline: a.deadline, priority: a.priority, team: a.team, owner: a.owner, text: "" }, true);
    const e2 = body.querySelector("tr.empty"); if (e2) e2.remove();
    keepFocus(body, () => { if (old) body.replaceChild(row, old); else body.insertBefore(row, body.firstChild); });
    const n = document.getElementById(a.type === "warning" ? "n-at-risk" : "n-breached");
    if (!old) n.textContent = String(Number(n.textContent) + 1);
    window.sd.tick();
  }
  let pending = null, later = null;
  const soon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 300);
    clearTimeout(later); later = setTimeout(refresh, 1600);
  };
  if (window.EventSource) {
    const live = new EventSource("/api/board/stream");
    live.addEventListener("sla", (e) => {
      const a = JSON.parse(e.data);
      if (a.type === "warning" || a.type === "breached" || a.type === "escalated") onAlert(a);
      soon();
    });
    live.addEventListener("item", soon);
    live.addEventListener("open", () => { document.getElementById("live").textContent = t("live"); });
    live.addEventListener("error", () => { document.getElementById("live").textContent = t("reconnecting…"); });
  }
  refresh();
  setInterval(refresh, 30000);
})();

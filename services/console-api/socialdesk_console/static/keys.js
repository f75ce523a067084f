// Keyboard-fast triage (docs/console.md, "Keyboard shortcuts"): single keys to move
// through the inbox and act on an item, listed in the dialog that ? opens. They never
// fire while the operator types in a field, and can be turned off in that dialog (WCAG
// 2.1.4: single-character shortcuts must be switchable off for speech-input users).
(function () {
  const dialog = document.getElementById("shortcuts");
  if (!dialog) return;
  const OFF = "sd.shortcuts.off", ORDER = "sd.inbox.order", BACK = "sd.inbox.url", CURSOR = "sd.inbox.cursor";
  const store = (kind) => { try { return window[kind]; } catch (e) { return null; } };
  const local = store("localStorage"), session = store("sessionStorage");
  const get = (s, k) => { try { return s ? s.getItem(k) : null; } catch (e) { return null; } };
  const put = (s, k, v) => { try { if (s) s.setItem(k, v); } catch (e) { /* private mode: no memory */ } };
  const toggle = document.getElementById("shortcuts-on");
  let on = get(local, OFF) !== "1";
  toggle.checked = on;
  toggle.addEventListener("change", () => { on = toggle.checked; put(local, OFF, on ? "0" : "1"); });

  // The dialog: opened by ? or the header button, closed by Esc, ? or Close; focus goes
  // back to where it was.
  let before = null;
  function openHelp() { before = document.activeElement; dialog.showModal(); }
  dialog.addEventListener("close", () => {
    // Unless a key pressed meanwhile (the close event comes later) has moved focus on.
    const now = document.activeElement;
    if (before && before.isConnected && (!now || now === document.body || dialog.contains(now))) before.focus();
  });
  const opener = document.getElementById("shortcuts-open");
  if (opener) opener.addEventListener("click", openHelp);

  // The inbox: a cursor row that j and k move (focus goes to its link, so screen readers
  // read the item), kept across live redraws; its order is remembered for the item page.
  const inbox = document.getElementById("inbox");
  const rows = () => (inbox ? [...inbox.querySelectorAll("tbody tr[data-id]")] : []);
  function remember() {
    put(session, ORDER, JSON.stringify(rows().map((r) => r.dataset.id)));
    put(session, BACK, location.pathname + location.search);
  }
  function mark(id, focus) {
    let at = null;
    rows().forEach((r) => {
      if (r.dataset.id === id) { r.dataset.cursor = ""; at = r; } else delete r.dataset.cursor;
    });
    if (!at) return;
    put(session, CURSOR, id);
    const link = at.querySelector("a[href^='/items/']");
    if (focus && link) link.focus();
  }
  function current() {
    const a = document.activeElement, r = a && a.closest ? a.closest("tr[data-id]") : null;
    if (r && inbox.contains(r)) return r.dataset.id;
    const c = inbox.querySelector("tbody tr[data-cursor]");
    return c ? c.dataset.id : null;
  }
  function move(step) {
    const rs = rows();
    if (!rs.length) return;
    const i = rs.findIndex((r) => r.dataset.id === current());
    const next = i < 0 ? (step > 0 ? 0 : rs.length - 1) : Math.max(0, Math.min(rs.length - 1, i + step));
    mark(rs[next].dataset.id, true);
  }
  if (inbox) {
    remember();
    const back = get(session, CURSOR);
    if (back && rows().some((r) => r.dataset.id === back)) mark(back, false);
    inbox.addEventListener("sd:redrawn", () => { remember(); const c = get(session, CURSOR); if (c) mark(c, false); });
  }

  // The item page: j and k walk the inbox's order; the action keys go to the controls.
  const ws = document.getElementById("workspace");
  if (ws) put(session, CURSOR, ws.dataset.item);  // back in the inbox, the cursor is on it
  function neighbour(step) {
    let order = [];
    try { order = JSON.parse(get(session, ORDER) || "[]"); } catch (e) { order = []; }
    const i = order.indexOf(ws.dataset.item);
    const id = i < 0 ? order[0] : order[i + step];
    if (id) { put(session, CURSOR, id); location.href = "/items/" + encodeURIComponent(id); }
  }
  const click = (sel) => { const b = document.querySelector(sel); if (b && !b.disabled) b.click(); };
  const focus = (id) => { const f = document.getElementById(id); if (f) f.focus(); };
  // Ctrl+Enter in a field does the action that field belongs to.
  const ACTION_OF = {
    text: "reply", template: "reply", tpl_crime_reference: "reply",
    priority: "regrade", regrade_reason: "regrade",
    intent: "recategorise", flags: "recategorise",
    transfer_force: "transfer", transfer_team: "transfer",
    handover_reason: "hand_over",
    outcome: "resolve", crime_reference: "resolve",
  };
  const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.isComposing) return;
    const t = e.target;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.altKey && t && ACTION_OF[t.id]) {
      e.preventDefault();
      click(`#actions button[data-cmd="${ACTION_OF[t.id]}"]`);
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(t)) return;
    if (dialog.open) {
      if (e.key === "?") { e.preventDefault(); dialog.close(); }
      return;  // Esc, Tab and Space belong to the dialog
    }
    if (!on) return;
    if (e.key === "?") { e.preventDefault(); openHelp(); return; }
    const act = {
      i: () => { location.href = get(session, BACK) || "/inbox"; },
      "/": () => { location.href = "/search"; },
      p: () => click("#p1-banner a"),
    };
    if (inbox) Object.assign(act, {
      j: () => move(1),
      k: () => move(-1),
      o: () => { const id = current(); if (id) location.href = "/items/" + encodeURIComponent(id); },
    });
    if (ws) Object.assign(act, {
      j: () => neighbour(1),
      k: () => neighbour(-1),
      c: () => click('#actions button[data-cmd="claim"]'),
      r: () => focus("template"),
      g: () => focus("priority"),
      d: () => focus("outcome"),
    });
    const fn = act[e.key];
    if (fn) { e.preventDefault(); fn(); }
  });
})();

// The idle sign-out, adjustable (WCAG 2.2.1): working on a page is not being idle (a key
// or pointer press touches the session, at most every 5 minutes, so a long reply is not
// lost), and two minutes before an untouched session ends a dialog offers to stay signed
// in; a screen nobody uses still signs out.
(function () {
  const dialog = document.getElementById("idle-warning");
  const who = document.getElementById("who");
  if (!dialog || !who) return;
  const csrf = who.dataset.csrf;
  const idleMs = Number(dialog.dataset.idleS) * 1000;
  // Two minutes before (a quarter of a very short idle time), so the warning is never the page.
  const WARN_MS = Math.min(120000, idleMs / 4), TOUCH_MS = 300000;
  // The server notes a visit at most once a minute: count from a minute before this page.
  let touched = Date.now() - 60000;
  async function extend() {
    const r = await fetch("/api/session/extend", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    if (r.status === 401) { location.href = "/login"; return; }
    if (r.ok) touched = Date.now();
  }
  function active() {
    if (dialog.open || Date.now() - touched < TOUCH_MS) return;
    touched = Date.now();
    extend().catch(() => { /* the next press tries again */ });
  }
  document.addEventListener("keydown", active, true);
  document.addEventListener("pointerdown", active, true);
  document.getElementById("idle-stay").addEventListener("click", async () => {
    await extend().catch(() => { /* the dialog stays: try again */ });
    if (Date.now() - touched < WARN_MS) dialog.close();
  });
  // The absolute end cannot be put off (a stolen session must not last): five minutes'
  // notice, once, to send or copy what is being written.
  const ending = document.getElementById("session-ending");
  const endsAt = Number(dialog.dataset.endsAt || 0) * 1000;
  let told = false;
  function check() {
    if (endsAt && !told && endsAt - Date.now() <= 300000 && !dialog.open) { told = true; ending.showModal(); }
    const left = idleMs - (Date.now() - touched);
    if (left <= 0) { location.href = "/login"; return; }
    if (left <= WARN_MS && !dialog.open) dialog.showModal();
  }
  if (idleMs > 0) setInterval(check, 5000);
})();

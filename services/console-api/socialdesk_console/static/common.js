// Shared by every page: the JSON API with the session's CSRF token, and the P1 alarm.
window.sd = (function () {
  const who = document.getElementById("who");
  const csrf = who ? who.dataset.csrf : "";
  async function api(path, opts) {
    opts = opts || {};
    const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    const r = await fetch(path, { method: opts.method || "GET", credentials: "same-origin", headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    if (r.status === 401) { location.href = "/login"; throw new Error("signed out"); }
    const data = await r.json().catch(() => ({}));
    return { status: r.status, data };
  }
  function beep() {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.3);
    } catch (e) { /* no audio: the banner still shows */ }
  }
  function alarmP1(change) {
    const b = document.getElementById("p1-banner");
    if (!b) return;
    b.textContent = "";
    const a = document.createElement("a");
    a.href = "/items/" + encodeURIComponent(change.item_id);
    const t = window.sdT, team = change.team || t("your force");
    a.textContent = change.queue === "national" && change.priority !== "P1"
      ? t("New item in the national duty queue ({grade}): no force could be determined; open it now", { grade: change.priority })
      : change.regraded_to ? t("Escalated to P1 for {team}: open it now", { team }) : t("New P1 emergency for {team}: open it now", { team });
    b.appendChild(a);
    b.hidden = false;
    beep();
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // Count down every <time class="countdown|due"> to its deadline, once a second.
  function tick() {
    const now = Date.now();
    const t = window.sdT;
    document.querySelectorAll("time.countdown, time.due").forEach((tm) => {
      const ms = Date.parse(tm.getAttribute("datetime")) - now;
      if (isNaN(ms)) return;
      const s = Math.abs(Math.round(ms / 1000));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      const txt = (h ? h + "h " : "") + m + "m" + (h ? "" : " " + sec + "s");
      tm.textContent = ms < 0 ? t("overdue {time}", { time: txt }) : txt;
      tm.classList.toggle("overdue", ms < 0);
    });
  }
  setInterval(tick, 1000); tick();
  return { api, alarmP1, el, csrf, tick };
})();

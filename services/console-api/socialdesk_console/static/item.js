// Sends an action as a command through the JSON API and shows its outcome (applied or
// the rejection reason) as soon as the item's owner service answers.
(function () {
  const box = document.getElementById("actions");
  if (!box) return;
  const msg = document.getElementById("outcome-msg");
  box.addEventListener("click", async (e) => {
    const cmd = e.target.dataset && e.target.dataset.cmd;
    if (!cmd) return;
    const payload = {};
    if (cmd === "reply" || cmd === "note") payload.text = document.getElementById("text").value;
    if (cmd === "resolve") {
      payload.outcome = document.getElementById("outcome").value;
      const ref = document.getElementById("crime_reference").value;
      if (ref) payload.crime_reference = ref;
    }
    msg.textContent = "Sending…";
    const r = await fetch(`/api/items/${encodeURIComponent(box.dataset.item)}/commands`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf },
      body: JSON.stringify({ type: cmd, payload }),
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 200) { msg.textContent = `Done: ${data.event.type}`; setTimeout(() => location.reload(), 1200); }
    else if (r.status === 409) msg.textContent = `Not done: ${data.reason}`;
    else if (r.status === 202) msg.textContent = "Sent; the outcome is taking longer than usual.";
    else msg.textContent = `Error: ${data.error || r.status}`;
  });
})();

// A post outbound cannot send from an account (no publisher or token): copy its text to
// post it on the platform by hand, then record that it was.
(function () {
  "use strict";
  const list = document.getElementById("post-deliveries");
  if (!list) return;
  list.addEventListener("click", async function (e) {
    const id = e.target.dataset && e.target.dataset.copy;
    if (!id) return;
    const area = document.getElementById(id);
    area.select();
    try { await navigator.clipboard.writeText(area.value); } catch (err) { document.execCommand("copy"); }
    const msg = document.getElementById("copy-msg");
    msg.textContent = msg.dataset.copied;
  });
})();

// The compose form's live character count per platform text: a help while typing (the
// server's check is the authority). X counts every link as 23 characters.
(function () {
  "use strict";
  const t = window.sdT;
  const LINK = /https?:\/\/\S+/g;
  function length(platform, text) {
    if (platform !== "x") return text.length;
    const links = text.match(LINK) || [];
    return text.replace(LINK, "").length + 23 * links.length;
  }
  function count(area) {
    const out = document.getElementById(area.dataset.count);
    if (!out) return;
    const limit = Number(area.dataset.limit);
    const n = length(area.dataset.platform, area.value.trim());
    out.textContent = t("{n} of {limit} characters", { n: n.toLocaleString(), limit: limit.toLocaleString() });
    out.classList.toggle("over", n > limit);
  }
  document.querySelectorAll("textarea[data-limit]").forEach(function (area) {
    area.addEventListener("input", function () { count(area); });
    count(area);
  });
  const summary = document.getElementById("problems");
  if (summary) summary.focus();
})();

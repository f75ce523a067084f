// The compose form's live character count per platform text: a help while typing (the
// server's check is the authority). X counts every link as 23 characters. Where the force
// posts in Welsh and English, both go out in one message (Welsh, a blank line, English),
// so the count is of the two together.
(function () {
  "use strict";
  const t = window.sdT;
  const LINK = new RegExp("https?://\\S+", "g");
  function length(platform, text) {
    if (platform !== "x") return text.length;
    const links = text.match(LINK) || [];
    return text.replace(LINK, "").length + 23 * links.length;
  }
  // One argument to t(), so the catalogue tool finds the string; the numbers go in after.
  function fill(text, vars) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in vars ? String(vars[k]) : m; });
  }
  function pair(area) {
    const p = area.dataset.platform;
    return [document.getElementById("f-text_cy-" + p), document.getElementById("f-text-" + p)].filter(Boolean);
  }
  function count(area) {
    const areas = pair(area);
    const texts = areas.map(function (a) { return a.value.trim(); }).filter(Boolean);
    const limit = Number(area.dataset.limit);
    const together = areas.length > 1 && texts.length > 1;
    const n = length(area.dataset.platform, texts.join("\n\n"));
    areas.forEach(function (a) {
      const out = document.getElementById(a.dataset.count);
      if (!out) return;
      out.textContent = together
        ? fill(t("{n} of {limit} characters, Welsh and English together"), { n: n.toLocaleString(), limit: limit.toLocaleString() })
        : fill(t("{n} of {limit} characters"), { n: length(a.dataset.platform, a.value.trim()).toLocaleString(), limit: limit.toLocaleString() });
      out.classList.toggle("over", (together ? n : length(a.dataset.platform, a.value.trim())) > limit);
    });
  }
  document.querySelectorAll("textarea[data-limit]").forEach(function (area) {
    area.addEventListener("input", function () { count(area); });
    count(area);
  });
  // Only the texts of the platforms ticked (all while none is); a text already written stays.
  const boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=accounts]"));
  function showTexts() {
    const ticked = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.dataset.platform; });
    document.querySelectorAll("fieldset.texts").forEach(function (set) {
      const written = Array.prototype.some.call(set.querySelectorAll("textarea"), function (a) { return a.value.trim() !== ""; });
      set.hidden = ticked.length > 0 && ticked.indexOf(set.dataset.platform) < 0 && !written;
    });
  }
  boxes.forEach(function (b) { b.addEventListener("change", showTexts); });
  showTexts();
  const summary = document.getElementById("problems");
  if (summary) summary.focus();
})();

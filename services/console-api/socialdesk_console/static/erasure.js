// The erasure report page: while the erasure runs, poll its progress and show each step
// in the live region; reload once it has finished, so the whole report shows.
(function () {
  "use strict";
  var box = document.getElementById("erasure");
  if (!box || box.dataset.status !== "running") return;
  var names = JSON.parse(document.getElementById("step-names").textContent || "{}");
  var url = "/api/data-protection/erasures/" + encodeURIComponent(box.dataset.request) + "/progress";
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) return;
        if (p.status !== "running") { window.location.reload(); return; }
        var step = document.getElementById("step-value");
        if (step) step.textContent = names[p.step] || p.step;
        Object.keys(p.counts || {}).forEach(function (k) {
          var cell = document.querySelector('[data-store="' + k + '"]');
          if (cell) cell.textContent = p.counts[k];
        });
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();

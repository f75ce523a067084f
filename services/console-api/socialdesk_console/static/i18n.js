// The page's strings in its language: t("English text", {name: value}) looks the text up
// in the JSON block the layout writes (#sd-i18n; empty in English) and fills {name}s.
window.sdT = (function () {
  let dict = null;
  return function t(text, vars) {
    if (dict === null) {
      try { dict = JSON.parse(document.getElementById("sd-i18n").textContent) || {}; } catch (e) { dict = {}; }
    }
    const out = dict[text] || text;
    return vars ? out.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : out;
  };
})();

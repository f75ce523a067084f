// The page's strings in its language: t("English text", {name: value}) looks the text up
// in the JSON block the layout writes (#sd-i18n; empty in English) and fills {name}s.
// sdL("welfare_concern") names a code (intent, flag, status, clock...) as the server does.
window.sdL = (function () {
  let names = null;
  return function (code) {
    if (names === null) {
      try { names = JSON.parse(document.getElementById("sd-labels").textContent) || {}; } catch (e) { names = {}; }
    }
    return names[code] || (code || "").replace(/_/g, " ");
  };
})();
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

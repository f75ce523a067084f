"""The console's two languages (English and Welsh): gettext catalogues read from the .po
files with Babel at start-up (no compiled .mo to ship), the language of the request in a
context variable that `_` and the templates read, and the dictionary the pages' scripts
get. docs/welsh.md says how the language is chosen and keeps the glossary."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.extract import extract_javascript
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment

HERE = Path(__file__).parent
TRANSLATIONS = HERE / "translations"
STATIC = HERE / "static"
LANGUAGES = ("en", "cy")
NAMES = {"en": "English", "cy": "Cymraeg"}
COOKIE = "sd_lang"
# The JS marks its strings t("..."): the same keyword Babel's extractor is given.
JS_KEYWORDS = {"t": None}

CURRENT: ContextVar[str] = ContextVar("sd_language", default="en")
# Set while a Welsh force's report or export is made: its headings are in both languages.
BILINGUAL: ContextVar[bool] = ContextVar("sd_bilingual", default=False)


@cache
def translations(lang: str) -> NullTranslations:
    """A language's catalogue, read from its .po (English: the msgids themselves)."""
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    out = Translations()
    # Fuzzy entries are a translator's guess: shown in English until someone checks them.
    out._catalog = {
        # gettext's own key for a message with a context: "context\x04msgid"
        (f"{m.context}\x04{m.id}" if m.context else m.id): m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }
    return out


def current() -> str:
    return CURRENT.get()


def use(lang: str) -> str:
    """Set the request's language (one of LANGUAGES, else English)."""
    chosen = lang if lang in LANGUAGES else "en"
    CURRENT.set(chosen)
    return chosen


def choose(cookie: str | None, welsh_force: bool) -> str:
    """The user's own choice (the switch on every page, kept in a cookie) wins; without
    one, staff of a force under the Welsh Language Standards start in Welsh."""
    if cookie in LANGUAGES:
        return cookie
    return "cy" if welsh_force else "en"


def prefers_welsh(accept_language: str) -> bool:
    """Whether a browser's Accept-Language puts Welsh first (cy, cy-GB...)."""
    first = accept_language.split(",", 1)[0].strip().lower()
    return first == "cy" or first.startswith("cy-") or first.startswith("cy;")


def _(message: str) -> str:
    """A string in the request's language."""
    return translations(CURRENT.get()).gettext(message)


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; `_` translates it where shown."""
    return message


def in_language(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def both(message: str) -> str:
    """Welsh and English together, for what a Welsh force publishes (report headings,
    export columns): "Cymraeg / English", or the English alone if there is no Welsh."""
    welsh = in_language("cy", message)
    return message if welsh == message else f"{welsh} / {message}"


def heading(message: str) -> str:
    """A report or export heading: in both languages for a Welsh force, else translated."""
    return both(message) if BILINGUAL.get() else _(message)


def js_messages() -> Iterator[tuple[str, int, str]]:
    """Every t("...") string in the pages' scripts: (file, line, message)."""
    for path in sorted(STATIC.glob("*.js")):
        found = extract_javascript(io.BytesIO(path.read_bytes()), JS_KEYWORDS, [], {})
        for line, _func, message, _comments in found:
            if isinstance(message, str):
                yield path.name, line, message


@cache
def _js_ids() -> tuple[str, ...]:
    return tuple(sorted({m for _f, _l, m in js_messages()}))


def js_strings() -> dict[str, str]:
    """The scripts' strings in the request's language, for the page's JSON data block
    (empty in English: the scripts fall back to their own text)."""
    lang = CURRENT.get()
    if lang == "en":
        return {}
    return {m: in_language(lang, m) for m in _js_ids()}


def install(env: Environment) -> None:
    """Jinja2's i18n extension over `_` (new-style: %(name)s, autoescaped), and the
    language and the scripts' dictionary for the layout."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_,
        ngettext=lambda s, p, n: translations(CURRENT.get()).ngettext(s, p, n),
        pgettext=lambda c, m: translations(CURRENT.get()).pgettext(c, m),
        npgettext=lambda c, s, p, n: translations(CURRENT.get()).npgettext(c, s, p, n),
        newstyle=True,
    )
    # For a message made in Python (an error's detail): no %-formatting, unlike _().
    env.globals["translate"] = _
    env.globals["current_language"] = current
    env.globals["js_strings"] = js_strings
    env.globals["language_names"] = NAMES
    from socialdesk_console.labels import js_labels, label, text_lang  # labels imports N_

    env.globals["label"] = label
    env.globals["role_name"] = label
    env.globals["text_lang"] = text_lang
    env.globals["js_labels"] = js_labels

"""The console's strings, extracted with Babel from the templates, the scripts (their
t("...") calls) and the Python (_, N_, heading), and the .po catalogues kept in step with
them. `python -m socialdesk_console.catalogues` adds new strings to both catalogues (the
Welsh left empty for a translator) and drops ones no longer used; the unit test
tests/unit/test_i18n.py fails while any string is missing or its Welsh is empty or fuzzy."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po, write_po

from socialdesk import __version__
from socialdesk_console.i18n import HERE, LANGUAGES, NAMES, TRANSLATIONS, js_messages

KEYWORDS = {**DEFAULT_KEYWORDS, "heading": None}
HEADER = (
    "# The socialdesk console's strings: %s.\n"
    "# Kept in step with the code by `python -m socialdesk_console.catalogues`;\n"
    "# terms and the review still needed before production: docs/welsh.md."
)
TRANSLATOR = {
    "en": "socialdesk developers (source language)",
    "cy": "socialdesk developers (native speaker review pending)",
}
JINJA = "jinja2.ext:babel_extract"


def _python_files() -> Iterable[Path]:
    return sorted(p for p in HERE.rglob("*.py") if p.name != "catalogues.py")


# A message: its English and its context (pgettext's, where one English word is two
# things in Welsh: "From" a date, "From" an author), None for most.
Key = tuple[str, str | None]


def extract() -> dict[Key, list[tuple[str, int]]]:
    """Every console string: (msgid, context) -> where it is used (file, line)."""
    found: dict[Key, list[tuple[str, int]]] = {}

    def add(msg: object, context: str | None, where: str, line: int) -> None:
        ids = msg if isinstance(msg, tuple) else (msg,)
        for m in ids:
            if isinstance(m, str) and m:
                found.setdefault((m, context), []).append((where, line))

    for path in sorted((HERE / "templates").glob("*.html")):
        opts = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
        for line, msg, _c, ctx in extract_from_file(JINJA, str(path), KEYWORDS, options=opts):
            add(msg, ctx, f"templates/{path.name}", line)
    for path in _python_files():
        for line, msg, _c, ctx in extract_from_file("python", str(path), KEYWORDS):
            add(msg, ctx, str(path.relative_to(HERE)), line)
    for name, line, msg in js_messages():
        add(msg, None, f"static/{name}", line)
    return found


def keys(catalog: Catalog) -> set[Key]:
    return {(m.id, m.context) for m in catalog if isinstance(m.id, str) and m.id}


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def update() -> dict[str, int]:
    """Both catalogues in step with the code: new strings added, unused ones dropped,
    every translation kept. Returns how many Welsh strings still need a translator."""
    messages = extract()
    todo = {}
    for lang in LANGUAGES:
        path = po_path(lang)
        old = read(lang) if path.is_file() else Catalog(locale=lang)
        # A header that only changes when someone means it to (no date of each run).
        cat = Catalog(
            locale=lang,
            header_comment=HEADER % NAMES[lang],
            project="socialdesk console",
            version=__version__,
            msgid_bugs_address="the socialdesk issue tracker",
            creation_date=old.creation_date,
            revision_date=old.revision_date,
            last_translator=TRANSLATOR[lang],
            language_team=NAMES[lang],
            fuzzy=False,
        )
        for (msgid, context), where in sorted(messages.items(), key=lambda kv: str(kv[0])):
            before = old.get(msgid, context=context)
            cat.add(
                msgid,
                before.string if before else "",
                locations=sorted(set(where)),
                flags=before.flags if before else (),
                context=context,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, cat, width=100, sort_output=True, include_lineno=False)
        todo[lang] = sum(1 for m in cat if m.id and not m.string)
    return todo


if __name__ == "__main__":
    print(update())

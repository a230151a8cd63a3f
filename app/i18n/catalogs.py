"""Our message catalogs (app/translations/<lang>/LC_MESSAGES/messages.po): update and compile.

`python -m app.i18n update` (what `make translations` runs): extract every
marked string from app/, views/ and our templates, plus the texts derived from the
models; merge them into each language's .po; set Chinese field labels from the seed's
column descriptions; compile the .mo files; list what still lacks a translation.
`python -m app.i18n compile` compiles only (`make install` runs it).
The app also compiles a missing or stale .mo at start-up (`ensure_compiled`).
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
DOMAIN = "messages"
LANGUAGES = ("zh",)  # English is the source language: no catalog
KEYWORDS = ("_l", "lazy_gettext", "lazy_pgettext:1c,2", "lazy_ngettext:1,2")

log = logging.getLogger(__name__)


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def compile_catalog(po: Path) -> Path:
    """Write `po`'s .mo next to it (atomically: several processes may start at once)."""
    with po.open("rb") as f:
        catalog = read_po(f)
    mo = po.with_suffix(".mo")
    fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
    with os.fdopen(fd, "wb") as out:
        write_mo(out, catalog, use_fuzzy=False)
    os.chmod(tmp, 0o644)
    os.replace(tmp, mo)
    return mo


def ensure_compiled(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every .po whose .mo is missing or older; returns the .mo files written."""
    written = []
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            written.append(compile_catalog(po))
        except OSError as exc:  # a read-only install: `make install` compiles instead
            log.warning("cannot compile %s: %s", po, exc)
    return written


def untranslated(catalog: Catalog) -> list[str]:
    """Messages without a usable translation (empty or fuzzy), as 'context|msgid'."""
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if message.fuzzy or not all(strings):
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            missing.append(f"{message.context}|{msgid}" if message.context else msgid)
    return missing


def apply_seed_labels(catalog: Catalog) -> int:
    """Chinese field labels from the seed's column descriptions; returns how many changed."""
    from app.i18n.labels import label_for
    from app.i18n.seed import seed_labels

    changed = 0
    for (table, column), label in seed_labels().items():
        message = catalog.get(label_for(column), context=table)
        if message is not None and (message.string != label or message.fuzzy):
            message.string, message.flags = label, message.flags - {"fuzzy"}
            changed += 1
    return changed


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


FAB_MAPPING = """
[extractors]
jinja2 = jinja2.ext:babel_extract
[python: **.py]
[jinja2: templates/**.html]
"""


def _add_untranslated_fab_messages(pot: Path) -> None:
    """Flask-AppBuilder's strings its own zh catalog leaves untranslated ('Add', 'Edit', ...) join ours."""
    import flask_appbuilder
    from babel.support import Translations

    fab = Path(flask_appbuilder.__file__).parent
    mapping, fab_pot = pot.with_name("fab.cfg"), pot.with_name("fab.pot")
    mapping.write_text(FAB_MAPPING)
    _pybabel("extract", "-F", str(mapping), *[a for k in KEYWORDS for a in ("-k", k)], "--no-location",
             "-o", str(fab_pot), str(fab))
    with fab_pot.open("rb") as f:
        fab_messages = read_po(f)
    with pot.open("rb") as f:
        ours = read_po(f)
    for lang in LANGUAGES:
        fab_translations = Translations.load(str(fab / "translations"), [lang])
        for message in fab_messages:
            if (isinstance(message.id, str) and message.id and message.id not in ours
                    and fab_translations.gettext(message.id) == message.id):
                ours.add(message.id, context=message.context)
    with pot.open("wb") as f:
        write_po(f, ours, no_location=True, sort_output=True)


def _same_messages(a: Catalog, b: Catalog) -> bool:
    def entries(catalog: Catalog) -> set:
        return {(m.context, str(m.id), str(m.string), m.fuzzy) for m in catalog if m.id}
    return entries(a) == entries(b)


def update() -> dict[str, list[str]]:
    """Extract, merge, fill seed labels, compile. Returns the untranslated messages per language."""
    pot = Path(tempfile.mkdtemp()) / f"{DOMAIN}.pot"
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    cwd = os.getcwd()
    os.chdir(ROOT)  # babel.cfg's patterns are relative to the repository
    try:
        _pybabel("extract", "-F", "babel.cfg", *keywords, "--no-location", "--sort-output",
                 "--project", "crm", "-o", str(pot), ".")
    finally:
        os.chdir(cwd)
    _add_untranslated_fab_messages(pot)
    missing = {}
    for lang in LANGUAGES:
        # keep the header's date unless messages change, so re-running changes nothing
        previous = load(lang) if po_path(lang).exists() else None
        if previous is not None:
            _pybabel("update", "-i", str(pot), "-d", str(TRANSLATIONS), "-l", lang,
                     "--ignore-obsolete", "--no-fuzzy-matching")
        else:
            _pybabel("init", "-i", str(pot), "-d", str(TRANSLATIONS), "-l", lang)
        catalog = load(lang)
        if lang == "zh":
            apply_seed_labels(catalog)
        if previous is not None and _same_messages(previous, catalog):
            catalog.creation_date, catalog.revision_date = previous.creation_date, previous.revision_date
        with po_path(lang).open("wb") as f:
            write_po(f, catalog, omit_header=False, no_location=True, sort_output=True, width=100)
        compile_catalog(po_path(lang))
        missing[lang] = untranslated(catalog)
    return missing


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "update"
    if command == "compile":
        for po in sorted(TRANSLATIONS.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            compile_catalog(po)
        return 0
    if command != "update":
        print("usage: python -m app.i18n [update|compile]", file=sys.stderr)
        return 2
    for lang, missing in update().items():
        print(f"{lang}: {len(missing)} message(s) without a translation in {po_path(lang).relative_to(ROOT)}")
        for msgid in missing:
            print("   ", msgid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

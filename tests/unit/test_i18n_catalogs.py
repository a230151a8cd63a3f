"""The message catalogs on their own: every message translated, labels from the seed, compiled on a fresh clone."""
from __future__ import annotations

import shutil
from pathlib import Path

from babel.support import Translations

from app.i18n.catalogs import TRANSLATIONS, ensure_compiled, load, untranslated
from app.i18n.labels import label_for
from app.i18n.seed import seed_labels
from tests.support.catalogs import PLACEHOLDER


def test_chinese_catalog_translates_every_message_and_keeps_placeholders():
    catalog = load("zh")
    assert len(catalog) > 200
    assert untranslated(catalog) == []
    for message in catalog:
        if message.id:
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(message.string)), msgid


def test_chinese_field_labels_are_the_seeds_column_descriptions():
    catalog = load("zh")
    labels = seed_labels()
    assert labels["customers", "name"] == "客户名称" and labels["customers", "industry"] == "所属行业"
    assert labels["leads", "status"] == "状态" and labels["contacts", "customer"] == "客户"
    checked = 0
    for (table, column), label in labels.items():
        message = catalog.get(label_for(column), context=table)
        if table in ("role_permissions",):  # no screen of its own
            continue
        assert message is not None, (table, column)
        assert message.string == label, (table, column, message.string, label)
        checked += 1
    assert checked > 80


def test_a_fresh_clone_gets_compiled_catalogs(tmp_path: Path):
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo"))
    written = ensure_compiled(copy)
    assert [p.name for p in written] == ["messages.mo"]
    assert ensure_compiled(copy) == []  # up to date: nothing to do
    translations = Translations.load(str(copy), ["zh"])
    assert translations.gettext("Customers") == "客户"
    assert translations.pgettext("customers", "Name") == "客户名称"

"""customers.industry is a documented value: migration 0028 maps the free text of before, the forms offer the values."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade

from app.models.choices import INDUSTRIES

BEFORE = {"Retail": "Retail", "零售": "Retail", " 互联网 ": "Technology", "Banking": "Finance", "FINANCE": "Finance",
          "Canary breeding": "Other", "": None, "制造业": "Manufacturing", "retail": "Retail"}


def test_migration_maps_free_text_to_documented_values_without_audit_rows(app, owner_sql):
    with app.app_context():
        downgrade(revision="0026")
    for name, industry in BEFORE.items():
        owner_sql("INSERT INTO customers (name, industry) VALUES (:n, :i)", n=f"Before {name!r}", i=industry)
    logged = owner_sql("SELECT count(*) FROM logs")
    with app.app_context():
        upgrade()
    found = dict(owner_sql("SELECT name, industry FROM customers WHERE name LIKE 'Before %'"))
    assert found == {f"Before {name!r}": value for name, value in BEFORE.items()}
    assert owner_sql("SELECT count(*) FROM logs") == logged  # not a user's edit
    assert set(INDUSTRIES) >= {v for v in found.values() if v}


def test_forms_offer_the_values_with_chinese_labels(admin, sql):
    from tests.support.client import post_form, switch_language

    switch_language(admin, "zh")
    form = admin.get("/customers/add").get_data(as_text=True)
    assert '<option value="Retail">零售</option>' in form and '<option value="">' in form
    response = post_form(admin, "/customers/add", {"name": "Free text", "industry": "Banking"})
    assert response.status_code == 200  # the form again, with its error
    assert sql("SELECT count(*) FROM customers WHERE name = 'Free text'") == [(0,)]
    assert post_form(admin, "/customers/add", {"name": "Valued", "industry": "Retail"}).status_code == 302

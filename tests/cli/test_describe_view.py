"""A screen derived from its model says what was derived: `crm describe-view`, and a declared attribute wins."""
from __future__ import annotations

from app.crud.derive import DERIVED_ATTRIBUTES, derive, derive_view
from app.models import Customer
from views.tables.model_view import CrmModelView


def _describe(app, name: str):
    return app.test_cli_runner().invoke(args=["crm", "describe-view", name])


def test_describe_view_by_menu_name_lists_every_derived_attribute(app):
    result = _describe(app, "Customers")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "CustomerView: derived from Customer (19 derived, 0 declared by the view)"
    for name in DERIVED_ATTRIBUTES:
        assert any(line.startswith(f"{name} [derived]") for line in lines), name
    assert "datamodel [derived]: CrmInterface(Customer)" in lines
    assert "route_base [derived]: /customers" in lines
    assert "add_columns [derived]: name, industry, location, revenue, owner" in lines
    assert "    revenue_band: band_label" in lines  # formatters_columns, one per line
    assert "    version: VersionField" in lines  # edit_form_extra_fields


def test_describe_view_marks_what_the_view_declared(app):
    result = _describe(app, "LogView")  # by class name
    assert result.exit_code == 0, result.output
    assert "datamodel [derived]: LogInterface(Log)" in result.output
    assert "list_columns [declared]: created_at, user, action, table_name, record_key, description" in result.output
    assert "label_columns [declared]:" in result.output and "    table_name: Table" in result.output
    assert "order_columns [derived]:" in result.output


def test_describe_view_refuses_unknown_and_hand_written_views(app):
    unknown = _describe(app, "Nowhere")
    assert unknown.exit_code == 2 and "No view named 'Nowhere'" in unknown.output
    assert "Customers" in unknown.output and "Service tickets" in unknown.output
    users = _describe(app, "Users")
    assert users.exit_code == 2 and "UserView is not derived from a model" in users.output


def test_a_declared_attribute_overrides_the_derived_one():
    class Narrow(CrmModelView):
        list_columns = ["name"]

    derive_view(Narrow, Customer)
    assert Narrow.list_columns == ["name"] and "list_columns" not in Narrow.derived_attributes
    assert Narrow.add_columns == derive(Customer)["add_columns"] and "add_columns" in Narrow.derived_attributes
    assert Narrow.datamodel.obj is Customer and Narrow.model is Customer


def test_the_documented_list_is_what_derive_fills():
    assert set(DERIVED_ATTRIBUTES) == {"datamodel", *derive(Customer)}
    doc = " ".join(CrmModelView.__doc__.split())
    for name in DERIVED_ATTRIBUTES:
        assert name in doc, f"{name} is missing from CrmModelView's docstring"

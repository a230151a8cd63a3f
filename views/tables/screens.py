"""The CRM screens: one model view per table, derived from it (`@derived_from`), with a few overrides each."""
from __future__ import annotations

from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import InputRequired, Optional

from app.i18n.labels import N_, choice_label
from app.models import Activity, Contact, Customer, Lead, Log, Opportunity, Report, ServiceTicket
from app.models.choices import INDUSTRIES
from app.audit.history import LogInterface
from app.crud.forms import JSONField, datetime_field
from app.reports.generators import REPORT_TYPES
from app.reports.shapes import NotInFuture, SnapshotShape
from app.crud.derive import derive, derived_from
from views.mixins.bulk_actions import BulkActionsMixin
from views.mixins.my_records import MyRecordsMixin
from views.mixins.saved_views import SavedViewsMixin
from views.mixins.convert_lead import LeadConversionMixin, conversion_panel
from views.mixins.csv_tools import ImportMixin
from views.mixins.show_panels import history_panel, log_description
from views.tables.model_view import CrmModelView
from views.tables.paging import FeedListWidget, ListPaging
from views.widgets.customer_page import customer360_panel


@derived_from(Activity)
class ActivityView(BulkActionsMixin, SavedViewsMixin, CrmModelView):
    list_columns = ["activity_date", "type", "subject", "customer", "contact", "updated_at"]
    base_order = ("activity_date", "desc")


@derived_from(ServiceTicket)
class TicketView(BulkActionsMixin, MyRecordsMixin, SavedViewsMixin, CrmModelView):
    base_order = ("ticket_id", "desc")


@derived_from(Opportunity)
class OpportunityView(BulkActionsMixin, MyRecordsMixin, SavedViewsMixin, CrmModelView):
    base_order = ("opportunity_id", "desc")


@derived_from(Lead)
class LeadView(BulkActionsMixin, MyRecordsMixin, SavedViewsMixin, LeadConversionMixin, ImportMixin, CrmModelView):
    base_order = ("lead_id", "desc")
    show_panels = (conversion_panel, history_panel)


@derived_from(Contact)
class ContactView(BulkActionsMixin, SavedViewsMixin, ImportMixin, CrmModelView):
    list_columns = ["first_name", "last_name", "email", "phone", "position", "customer"]
    related_views = [LeadView, ActivityView]
    base_order = ("contact_id", "desc")


@derived_from(Customer)
class CustomerView(BulkActionsMixin, MyRecordsMixin, SavedViewsMixin, ImportMixin, CrmModelView):
    base_order = ("customer_id", "desc")
    # an industry is one of nine values: found by its name or label through its B-tree, not by trigrams that
    # every industry shares ("ist", "ics": 22 ms for no match at 1M customers), and in Chinese ("物流") too
    quick_search_labels = staticmethod(lambda: {"industry": {v: choice_label(v) for v in INDUSTRIES}})
    show_template = "crm/customer_show.html"  # the 360° panels replace FAB's related-record tabs
    show_panels = (customer360_panel, history_panel)


def _snapshot_fields() -> dict:
    """A known report type, data of its documented shape, a date not in the future (the ORM checks again)."""
    labels = derive(Report)["label_columns"]
    return {
        "report_type": SelectField(labels["report_type"], [InputRequired()], widget=Select2Widget(),
                                   choices=[(k.name, _l(k.title)) for k in REPORT_TYPES.values()]),
        "data": JSONField(labels["data"], [InputRequired(), SnapshotShape()]),
        "generated_at": datetime_field(labels["generated_at"], [Optional(), NotInFuture()]),
    }


@derived_from(Report)
class ReportView(CrmModelView):
    list_columns = ["report_type", "generated_at"]
    base_order = ("generated_at", "desc")
    quick_search_labels = staticmethod(lambda: {"report_type": {k: _l(t.title) for k, t in REPORT_TYPES.items()}})
    add_form_extra_fields = edit_form_extra_fields = _snapshot_fields()


@derived_from(Log, LogInterface)
class LogView(CrmModelView):
    """Read-only; newest first, paged by keyset (created_at, log_id), never counted."""

    # no add, edit, delete, download or action routes at all (not merely forbidden)
    exclude_route_methods = {"add", "edit", "delete", "download", "action", "action_post"}
    base_permissions = ["can_list", "can_show", "can_export"]
    base_order = ("created_at", "desc")
    paging = ListPaging(feed="the log")
    quick_search_exact = ("action", "table_name")  # no search indexes on the log: its own indexes' columns
    list_widget = FeedListWidget
    show_panels = ()
    list_columns = ["created_at", "user", "action", "table_name", "record_key", "description"]
    show_columns = ["log_id", "created_at", "user", "user_id", "action", "table_name", "record_key",
                    "description"]
    search_columns = ["created_at", "user", "user_id", "action", "table_name", "record_key"]
    label_columns = {**derive(Log)["label_columns"], "table_name": _l("Table"), "record_key": _l("Record"),
                     "user": _l("User"), "created_at": _l("When (UTC)")}
    formatters_columns = {**derive(Log)["formatters_columns"], "description": log_description}


SALES = [CustomerView, ContactView, LeadView, OpportunityView, ActivityView]
MENU = [
    # names stay English (they name the permissions); the menu shows them translated
    (CustomerView, N_("Customers"), "fa-building", N_("Sales")),
    (ContactView, N_("Contacts"), "fa-address-book", N_("Sales")),
    (LeadView, N_("Leads"), "fa-bullseye", N_("Sales")),
    (OpportunityView, N_("Opportunities"), "fa-handshake", N_("Sales")),
    (ActivityView, N_("Activities"), "fa-calendar", N_("Sales")),
    (TicketView, N_("Service tickets"), "fa-life-ring", N_("Service")),
    (ReportView, N_("Reports"), "fa-chart-bar", N_("Analytics")),
    (LogView, N_("Logs"), "fa-history", N_("Admin")),
]

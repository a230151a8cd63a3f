"""Lead conversion on the leads screen: a form from one lead's page, and a bulk action on the list.

Permission: `can_convert on LeadView` (the permission matrix's "Leads: convert").
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError
from wtforms import DateField, Form, HiddenField, RadioField, StringField
from wtforms import validators as v

from app.audit.record import current_user_id, record
from app.models.choices import INDUSTRIES, OPPORTUNITY_STAGES
from app.crud.refusals import friendly
from app.encryption.columns import AMOUNT_MAX
from app.extensions import db
from app.crud.forms import AjaxRelatedField, Amount, AmountField, NoControlCharacters, choice_field
from app.sales.lead_conversion import Conversion, ConversionRefused, already_converted, convert_lead, convert_leads
from app.sales.lead_conversion import default_opportunity_name
from app.models import Customer
from app.models.crm import EMAIL_RE, PHONE_RE

CONVERT = "convert"


def _text(label, max_length: int = 255, *extra) -> StringField:
    return StringField(label, [v.Optional(), v.Length(max=max_length), NoControlCharacters(), *extra])


class ConvertLeadForm(Form):
    """What a lead becomes; which parts are required depends on the two choices."""

    customer_mode = RadioField(_l("Customer"), choices=[("existing", _l("An existing customer")),
                                                        ("new", _l("A new customer"))], default="existing")
    customer = AjaxRelatedField(_l("Existing customer"), model=Customer, endpoint="/customers/lookup/")
    customer_name = _text(_l("Customer name"))
    customer_industry = choice_field(_l("Industry"), INDUSTRIES, required=False)
    customer_location = _text(_l("Location"))
    contact_mode = RadioField(_l("Contact"), choices=[("lead", _l("The lead's contact")),
                                                      ("new", _l("A new contact"))], default="lead")
    first_name = _text(_l("First name"))
    last_name = _text(_l("Last name"))
    email = _text(_l("Email"), 255, v.Regexp(EMAIL_RE, message=_l("Not a valid email address.")))
    phone = _text(_l("Phone"), 50, v.Regexp(PHONE_RE, message=_l("Not a valid phone number.")))
    position = _text(_l("Position"))
    opportunity_name = _text(_l("Opportunity name"))
    stage = choice_field(_l("Stage"), OPPORTUNITY_STAGES)
    value = AmountField(_l("Value"), [v.Optional(), Amount(Decimal(0), AMOUNT_MAX)])  # "12,500,000" as shown
    close_date = DateField(_l("Close date"), [v.Optional()])
    version = HiddenField()

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        required = [] if self.customer_mode.data != "new" else [self.customer_name]
        if self.contact_mode.data == "new":
            required += [self.first_name, self.last_name]
        for field in required:
            if not (field.data or "").strip():
                field.errors = [*field.errors, _("This field is required.")]
                ok = False
        if self.customer_mode.data == "existing" and self.customer.data is None and not self.customer.errors:
            self.customer.errors = [*self.customer.errors, _("Choose a customer, or create a new one.")]
            ok = False
        return ok

    def conversion(self) -> Conversion:
        new_customer = new_contact = None
        if self.customer_mode.data == "new":
            new_customer = {"name": self.customer_name.data.strip(), "industry": self.customer_industry.data,
                            "location": self.customer_location.data}
        if self.contact_mode.data == "new":
            new_contact = {k: getattr(self, k).data for k in ("first_name", "last_name", "email", "phone",
                                                               "position")}
        version = self.version.data
        return Conversion(
            customer_id=None if new_customer else self.customer.data.customer_id,
            new_customer=new_customer, new_contact=new_contact,
            opportunity={"name": (self.opportunity_name.data or "").strip(), "stage": self.stage.data,
                         "value": self.value.data, "close_date": self.close_date.data},
            version=int(version) if version and version.isdigit() else None)


class ConversionWidget(RenderTemplateWidget):
    template = "crm/lead_conversion_status.html"


def conversion_panel(view: Any, pk: Any, item: Any, widgets: dict) -> None:
    """A lead's page: whether it was converted, into what, or a "Convert" button (a show panel)."""
    widgets["summary"] = ConversionWidget(
        lead=item, refusal=already_converted(item),
        can_convert=view.appbuilder.sm.has_access(f"can_{CONVERT}", view.class_permission_name))


class LeadConversionMixin:
    """Adds /leads/convert/<pk> and the "Convert" list action to the leads screen."""

    method_permission_name = {"convert_selected": CONVERT}

    @expose("/convert/<pk>", methods=["GET", "POST"])
    @has_access
    @permission_name(CONVERT)
    def convert(self, pk):
        lead = self.datamodel.get(pk)
        if lead is None:
            abort(404)
        show_url = url_for(f"{self.endpoint}.show", pk=lead.lead_id)
        refusal = already_converted(lead)
        if refusal and request.method == "GET":
            flash(refusal, "warning")
            return redirect(show_url)
        if request.method == "GET":
            form = ConvertLeadForm(version=str(lead.version))
            contact = lead.contact
            if contact is not None:
                form.customer.data = contact.customer
                form.opportunity_name.data = default_opportunity_name(lead, contact.customer.name)
            else:  # left empty: named after the new customer on save
                form.customer_mode.data, form.contact_mode.data = "new", "new"
            return self._convert_page(lead, form, show_url)
        form = ConvertLeadForm(request.form)
        if not form.validate():
            return self._convert_page(lead, form, show_url, 400)
        try:
            opportunity = convert_lead(lead.lead_id, form.conversion(), current_user_id())
            record("convert lead", {"lead": lead.lead_id, "customer": opportunity.customer_id,
                                    "opportunity": opportunity.opportunity_id}, table="leads",
                   record_key=lead.lead_id, commit=False)
            db.session.commit()
        except ConversionRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return self._convert_page(self.datamodel.get(pk), form, show_url, 409)
        except SQLAlchemyError as exc:
            db.session.rollback()
            flash(friendly(exc), "danger")
            return self._convert_page(self.datamodel.get(pk), form, show_url, 409)
        flash(Markup(_("Lead #%(id)s converted: customer %(customer)s, opportunity %(opportunity)s.",
                       id=lead.lead_id, customer=_link("/customers/show/", opportunity.customer),
                       opportunity=_link("/opportunities/show/", opportunity))), "success")
        return redirect(url_for("CustomerView.show", pk=opportunity.customer_id))

    def _convert_page(self, lead, form: ConvertLeadForm, show_url: str, status: int = 200):
        return self.render_template("crm/lead_convert.html", lead=lead, form=form, show_url=show_url,
                                    title=_("Convert lead #%(id)s", id=lead.lead_id)), status

    @action("convert_selected", _l("Convert"),
            _l("Convert the selected leads? Each becomes an opportunity of the customer of its contact."),
            "fa-exchange-alt", single=False)
    def convert_selected(self, items):
        list_url = url_for(f"{self.endpoint}.list")
        if not items or any(item is None for item in items):
            flash(_("A selected lead does not exist; nothing was converted."), "danger")
            return redirect(list_url)
        ids = [item.lead_id for item in items]
        try:
            opportunities = convert_leads(ids, current_user_id())
            for lead_id, opportunity in zip(ids, opportunities):
                record("convert lead", {"lead": lead_id, "customer": opportunity.customer_id,
                                        "opportunity": opportunity.opportunity_id, "bulk": True},
                       table="leads", record_key=lead_id, commit=False)
            db.session.commit()
        except ConversionRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        except SQLAlchemyError as exc:
            db.session.rollback()
            flash(friendly(exc), "danger")
        else:
            flash(_("%(n)s lead(s) converted into opportunities.", n=len(ids)), "success")
        return redirect(list_url)


def _link(prefix: str, row: Any) -> Markup:
    pk = db.inspect(row).identity[0]
    return Markup('<a href="{}{}">{}</a>').format(prefix, pk, escape(str(row)))

"""The add form of the CRM screens, opened with related rows named in the URL already chosen."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.widgets import FormWidget

from app.crud.forms import AjaxRelatedField


class PrefilledFormWidget(FormWidget):
    """`add?customer=5` opens the form with that customer selected (e.g. a quick-add on a customer's page)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if request.method == "GET":
            for field in kwargs["form"]:
                raw = request.args.get(field.name, "")
                if isinstance(field, AjaxRelatedField) and raw:
                    field.process_formdata([raw])

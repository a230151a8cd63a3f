"""An admin screen with a form and row actions (custom fields, webhooks, API keys), declared like a Django ModelAdmin.

A screen names its template, title and the exceptions that refuse its form; it says how to read
the form, what its page shows and how a row is created. The base class does the rest FAB asks
of each screen: the routes under their permission, the form shown again with the refusal (400),
a flash and the way back to the list after a change.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from flask import Response, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

Method = Callable[..., Any]


def action(url: str, permission: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[Method], Method]:
    """FAB's `expose`, `has_access` and `permission_name` in one: a screen's route under one of its permissions."""
    def decorate(method: Method) -> Method:
        return expose(url, methods=list(methods))(has_access(permission_name(permission)(method)))
    return decorate


class FormScreen(BaseView):
    """One page with the rows and a form to add one (index); a refused form comes back with its reason."""

    default_view = "index"
    template = ""  # the page with the form
    title: Any = ""
    refused: tuple[type[Exception], ...] = ()  # what the form's rule raises: its message is shown (400)

    def blank(self) -> Mapping[str, Any]:
        """The form as first shown."""
        return {}

    def read_form(self) -> Mapping[str, Any]:
        """The form as sent."""
        return request.form

    def page_values(self) -> dict[str, Any]:
        """What the page with the form shows besides it (the rows, the choices offered)."""
        return {}

    def create(self, form: Mapping[str, Any]) -> Any:
        """Add what the form says; the response (usually `done`). Raise one of `refused` to show the form again."""
        raise NotImplementedError

    def page(self, form: Mapping[str, Any] | None = None, error: str | None = None, status: int = 200):
        """The page with the form: empty, or as sent with why it was refused."""
        return self.render_template(self.template, title=self.title, form=form or self.blank(), error=error,
                                    **self.page_values()), status

    def done(self, message: str, category: str = "success", code: int = 302) -> Response:
        """Say what was done and go back to the list."""
        flash(message, category)
        return redirect(url_for(".index"), code)

    @action("/", "list", methods=("GET",))
    def index(self):
        return self.page()

    @action("/add", "add")
    def add(self):
        form = self.read_form()
        try:
            return self.create(form)
        except self.refused as exc:
            return self.page(form, str(exc), 400)


class ListAndFormScreen(FormScreen):
    """The same with the rows on a page of their own (index) and the form on another (GET /add)."""

    list_template = ""
    list_title: Any = ""

    def list_values(self) -> dict[str, Any]:
        """What the list page shows."""
        return {}

    @action("/", "list", methods=("GET",))
    def index(self):
        return self.render_template(self.list_template, title=self.list_title, **self.list_values())

    @action("/add", "add", methods=("GET",))
    def new(self):
        return self.page()

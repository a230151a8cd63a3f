"""Jinja's `{% import %}` of a macro library without comparing every global on every import.

A list page imports FAB's macro libraries (lib.html, baselib.html) about ten times. Each time
Jinja checks whether the importing page has globals the library lacks, by testing each of the
page's global names against the library's `ChainMap` of globals one by one (in Python): about
1,500 calls a page. Both come from the same environment, so the answer is "none" and the
library's module, rendered once, is reused. `CrmTemplate` asks the same question with one set
difference done in C; a template given globals of its own still gets a module of its own.
"""
from __future__ import annotations

from collections import ChainMap
from typing import Any

from flask import Flask
from jinja2 import Template
from jinja2.environment import TemplateModule


class CrmTemplate(Template):
    """Jinja's Template; its default module (what `{% import %}` binds) found without per-name checks."""

    def _get_default_module(self, ctx: Any = None) -> TemplateModule:
        if ctx is not None:
            known = self.globals.maps if isinstance(self.globals, ChainMap) else (self.globals,)
            if ctx.globals_keys.difference(*known):  # names the library lacks: Jinja makes a module with them
                return super()._get_default_module(ctx)
        return super()._get_default_module(None)  # the cached module, as Jinja's own answer would be


def init_templating(app: Flask) -> None:
    """Before any template is loaded: the environment compiles them into CrmTemplate."""
    app.jinja_env.template_class = CrmTemplate

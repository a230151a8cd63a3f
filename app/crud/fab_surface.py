"""The Flask-AppBuilder surface this project overrides or reaches into, checked against one FAB version.

Each entry names a FAB attribute, the FAB class that defines it, our classes that override
it or our modules that use it, and why. PRIVATE lists FAB's private names (no public hook
does the job); PUBLIC the public FAB methods we override. FAB's declarative class attributes
(list_columns, list_widget, add_widget, show_template, extra_args, ...) are its configuration
and not listed.

TEMPLATES lists FAB's templates we override with a copy at the same path under app/templates
(Flask reads the app's templates before FAB's), each with the SHA-256 of the FAB file it was copied
from, in FAB_VERSION_CHECKED.

Upgrading FAB: tests/web/test_fab_surface.py fails until FAB_VERSION_CHECKED names the installed
version. Before updating it, re-read each entry against the new FAB source (a renamed private
name also fails the test on its own); a FAB template whose original changed fails on its own too:
carry FAB's change into our copy (or drop the copy), then record the new original's hash.
"""
from __future__ import annotations

from dataclasses import dataclass

FAB_VERSION_CHECKED = "5.3.0"


@dataclass(frozen=True)
class Surface:
    name: str
    fab: str  # "module.Class" of the FAB class that defines `name` (or sets it, for an instance attribute)
    why: str
    overridden_by: tuple[str, ...] = ()  # "module.Class" of our classes that define `name`
    used_in: tuple[str, ...] = ()  # our modules that read or call `name` (not counting super() in an override)

    @property
    def private(self) -> bool:
        return self.name.startswith("_") and not self.name.startswith("__")


_VIEWS = "flask_appbuilder.baseviews"
_MODEL_VIEW = "flask_appbuilder.views.ModelView"
_SQLA = "flask_appbuilder.models.sqla.interface.SQLAInterface"
_SM = "flask_appbuilder.security.sqla.manager.SecurityManager"
_BASE_SM = "flask_appbuilder.security.manager.BaseSecurityManager"
_CRM_SM = "app.security.manager.CrmSecurityManager"
_USERS = "views.admin.users_roles.UserView"

PRIVATE = (
    Surface("_get_list_widget", f"{_VIEWS}.BaseCRUDView",
            "FAB reads each list page inside it with an exact COUNT(*) and OFFSET; there is no public hook "
            "between the list's filters and its widget. Here: capped counts, keyset pages, the pager "
            "(views/tables/paging.py). The users and roles lists keep FAB's paging: their `?q=` search "
            "joins the list's filters as a copy handed to FAB's own (FabListSearchMixin).",
            overridden_by=("views.tables.model_view.CrmModelView", "views.mixins.quick_search.FabListSearchMixin")),
    Surface("_get_show_widget", f"{_VIEWS}.BaseCRUDView",
            "The one step of a show page with the shown row at hand (`show_widget` is given only its "
            "values): adds the History, lead-conversion and customer 360° panels.",
            overridden_by=("views.mixins.show_panels.ShowPanelsMixin",)),
    Surface("_filters", f"{_VIEWS}.BaseModelView",
            "The Filters into which FAB parses a list's `_flt_<i>_<column>` arguments: the argument check "
            "and the list links' filter positions read that same object (building another converts every "
            "column's filters again; the CSV export and bulk actions build their own, app/lists/selection.py).",
            used_in=("app.crud.query_args", "app.lists.links", "views.mixins.quick_search")),
    Surface("_filters", "flask_appbuilder.api.ModelRestApi",
            "The API's filters by column, to check a `q=(filters:...)` argument before FAB runs it and to "
            "declare each column's operators in the OpenAPI document.",
            used_in=("app.crud.query_args", "app.crud.openapi_query")),
    Surface("_base_filters", f"{_VIEWS}.BaseModelView",
            "The view's `base_filters` as Filters, joined with the request's (as FAB's list and export do).",
            used_in=("views.tables.model_view", "app.lists.selection",
                     "views.mixins.bulk_actions")),
    Surface("_id", f"{_VIEWS}.BaseCRUDView",
            "FAB's edit sets `form._id` to the edited row's key: a role name's uniqueness check lets that row "
            "keep its own name.",
            used_in=("views.admin.users_roles",)),
    Surface("_column2field", "flask_appbuilder.api.convert.Model2SchemaConverter",
            "The API's Decimal fields round to two places before validation (1.234 would be saved as 1.23); "
            "the converter has no public per-field hook.",
            overridden_by=("views.api.UnroundedConverter",)),
    Surface("_api_key_user", _SM,
            "FAB's flag that the request's user came from an API key: its has_access and current_user then "
            "read g.user. Our validate_api_key sets it with g.user, as FAB's own does.",
            used_in=("app.security.manager",)),
    Surface("_init_properties", f"{_VIEWS}.BaseCRUDView",
            "A custom field changed the table's columns: the screen's labels, filters and column lists are "
            "built again by FAB's own constructor step (no public way to re-derive a registered view).",
            used_in=("views.tables.rederive",)),
    Surface("_init_forms", f"{_VIEWS}.BaseCRUDView",
            "A custom field changed the table's columns: the add, edit and filter forms are built again. "
            "The filter form's class is wrapped there (no other step sees it made): a list page builds the "
            "form only when its widget renders it (views/widgets/filter_form.py).",
            overridden_by=("views.tables.model_view.CrmModelView",), used_in=("views.tables.rederive",)),
    Surface("_init_titles", f"{_VIEWS}.BaseCRUDView",
            "The screen's titles, set again with its derived attributes after a custom field changed.",
            used_in=("views.tables.rederive",)),
    Surface("_init_properties", "flask_appbuilder.api.ModelRestApi",
            "A custom field changed the table's columns: the API's column lists and filters are built again.",
            used_in=("views.tables.rederive",)),
    Surface("_init_titles", "flask_appbuilder.api.ModelRestApi",
            "The API's titles, set again with its columns after a custom field changed.",
            used_in=("views.tables.rederive",)),
    Surface("_init_model_schemas", "flask_appbuilder.api.ModelRestApi",
            "A custom field changed the table's columns: the API's marshmallow schemas are built again "
            "(FAB builds them once, when the blueprint is made).",
            used_in=("views.tables.rederive",)),
    Surface("_search_filters", "flask_appbuilder.models.filters.Filters",
            "A list's joined filters share the catalogue of their model's filters instead of converting every "
            "column again (CrmFilters.get_joined_filters); like FAB's own joined filters, they have none to "
            "search by.",
            used_in=("app.crud.datamodel",)),
    Surface("_invalid_formdata", "flask_appbuilder.fields.QuerySelectMultipleField",
            "FAB's multiple select drops unknown ids and saves the rest; its flag of them refuses the post.",
            used_in=("app.crud.forms",)),
)

PUBLIC = (
    # --- the datamodel (app/crud/datamodel.py)
    Surface("get", _SQLA, "A malformed or out-of-range key is not found (404), not a database error.",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("get_filters", "flask_appbuilder.models.base.BaseInterface",
            "The model's filters as CrmFilters (the same filters, joined more cheaply).",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("get_joined_filters", "flask_appbuilder.models.filters.Filters",
            "FAB's joined filters convert every column of the model to its filter classes on every list page; "
            "the joined object shares the catalogue it would rebuild.",
            overridden_by=("app.crud.datamodel.CrmFilters",)),
    Surface("get_inner_filters", _SQLA,
            "FAB copies a list's filters for each of its queries (count, keys, rows): built once per request.",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("query_count", _SQLA, "Counts at most 10,001 rows; beyond, the planner's estimate or \"10,000+\".",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("query", _SQLA, "The capped count, and deep pages found by their keys first (related lists).",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("get_values", "flask_appbuilder.models.base.BaseInterface",
            "A list page's cells read directly for mapped attributes (FAB asks hasattr and callable per cell).",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("is_float", _SQLA, "NUMERIC filter values are converted too (PostgreSQL refuses numeric = text).",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("add", _SQLA, "A database refusal becomes a message people can act on.",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("edit", _SQLA, "A database refusal or a concurrent change becomes a message people can act on.",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("delete", _SQLA, "Refuses while dependent rows exist, naming them.",
            overridden_by=("app.crud.datamodel.CrmInterface",)),
    Surface("convert", "flask_appbuilder.models.filters.BaseFilterConverter",
            "Text columns get the index-backed Contains / Matches words filters first.",
            overridden_by=("app.search.filters.SearchFilterConverter",)),
    Surface("apply", "flask_appbuilder.models.filters.BaseFilter",
            "The search filters' condition, the owner's team of the \"My team\" switch, and a contact's or an "
            "activity's customer's owner or team (FAB's documented way to write a filter).",
            overridden_by=("app.search.filters._SearchFilter", "app.search.quick.QuickSearchFilter",
                           "app.security.my_records.FilterOwnerTeam", "app.security.my_records.FilterCustomerOwner")),
    Surface("__init__", "flask_appbuilder.models.filters.BaseFilter",
            "The list's search box is one filter over several columns: it is made with them.",
            overridden_by=("app.search.quick.QuickSearchFilter",)),
    Surface("__call__", "flask_appbuilder.fieldwidgets.DateTimePickerWidget",
            "Shows the field's formatted value: FAB prints microseconds its own field then refuses.",
            overridden_by=("app.crud.forms.DateTimeInput",)),
    # --- screens
    Surface("index", "flask_appbuilder.views.IndexView",
            "The home page: tiles of the screens this user may open (FAB's way to a custom home page).",
            overridden_by=("views.pages.home.HomeView",)),
    Surface("__init__", _MODEL_VIEW, "Hands the list template its CSV buttons, search box and chips, bulk actions "
            "and saved views, and the show page its Edit / Delete, through FAB's `extra_args`; the bulk actions' "
            "permissions are the screen's own (`method_permission_name`, before FAB reads it).",
            overridden_by=("views.tables.model_view.CrmModelView", "views.mixins.bulk_actions.BulkActionsMixin",
                           "views.mixins.saved_views.SavedViewsMixin", "views.mixins.quick_search.QuickSearchMixin",
                           "views.mixins.quick_search.ListSearchMixin")),
    Surface("post_delete_redirect", _MODEL_VIEW, "After a delete, back to the list with its filters, or to the "
            "record page when refused; to the list when the deleted record's own page asked (FAB's hook).",
            overridden_by=("views.mixins.quick_search.QuickSearchMixin",)),
    Surface("update_redirect", f"{_VIEWS}.BaseView", "FAB's page history left unchanged (and the session "
            "cookie not signed again) when the page is already its last entry (FAB's documented hook).",
            overridden_by=("views.tables.model_view.CrmModelView",)),
    Surface("database_error_message", f"{_VIEWS}.BaseCRUDView", "The edit's refusal, as the datamodel worded it.",
            overridden_by=("views.tables.model_view.CrmModelView",)),
    Surface("post_add_redirect", _MODEL_VIEW, "`add?next=<path>` returns there after saving (FAB's hook).",
            overridden_by=("views.tables.model_view.CrmModelView",)),
    Surface("action", _MODEL_VIEW, "An unknown action name is a 400/403, not FAB's 500 (same route, re-exposed).",
            overridden_by=("views.mixins.actions.ActionGuardMixin",)),
    Surface("action_post", _MODEL_VIEW, "As `action`, for the list's bulk actions.",
            overridden_by=("views.mixins.actions.ActionGuardMixin",)),
    Surface("pre_add", f"{_VIEWS}.BaseCRUDView", "A record added without an owner is owned by its creator "
            "(FAB's hook).", overridden_by=("views.tables.model_view.CrmModelView",)),
    Surface("list", _MODEL_VIEW, "A list opened with no argument opens the user's default saved view, else "
            "\"Mine\" where the data scope shows more (same route, re-exposed).", overridden_by=("views.mixins.saved_views.SavedViewsMixin",)),
    Surface("__init__", "flask_appbuilder.widgets.RenderTemplateWidget",
            "The add form (FAB's `add_widget` hook) opens with related rows named in the URL chosen.",
            overridden_by=("views.widgets.add_form.PrefilledFormWidget",)),
    Surface("__call__", "flask_appbuilder.widgets.SearchWidget",
            "The filter form (FAB's `search_widget` hook) is rendered once per screen and language.",
            overridden_by=("views.widgets.filter_form.CachedSearchWidget",)),
    Surface("pre_delete", f"{_VIEWS}.BaseCRUDView", "An admin cannot delete their own account; a role in use "
            "cannot be deleted; a record others still belong to is refused, naming them, as an error (FAB's hook).",
            overridden_by=(_USERS, "views.admin.users_roles.RoleView", "views.mixins.quick_search.QuickSearchMixin")),
    Surface("pre_update", "flask_appbuilder.security.views.UserDBModelView",
            "An admin cannot disable their own account or change their own role (FAB's hook).",
            overridden_by=(_USERS,)),
    Surface("post_update", f"{_VIEWS}.BaseCRUDView", "A disabled user's open sessions end (FAB's hook).",
            overridden_by=(_USERS,)),
    # --- REST API
    Surface("post_headless", "flask_appbuilder.api.ModelRestApi",
            "Related ids that name no row are a 422 (FAB would store NULL).",
            overridden_by=("views.api.CrmRestApi",)),
    Surface("put_headless", "flask_appbuilder.api.ModelRestApi",
            "As `post_headless`, for updates; `PUT {}` is a 422 (PUT is partial and needs a field).",
            overridden_by=("views.api.CrmRestApi",)),
    Surface("put", "flask_appbuilder.api.ModelRestApi",
            "On `/<int:pk>` (FAB's `/<pk>` matched `/_info`: PUT /_info was a 400, not a 405).",
            overridden_by=("views.api.CrmRestApi",)),
    Surface("delete", "flask_appbuilder.api.ModelRestApi", "As `put`: DELETE /_info is a 405.",
            overridden_by=("views.api.CrmRestApi",)),
    Surface("response", "flask_appbuilder.api.BaseApi",
            "Every error in the API's one shape {message: text, status, errors?}; a stale write is a 409.",
            overridden_by=("views.api.CrmRestApi", "views.api.SecurityApi")),
    Surface("response_500", "flask_appbuilder.api.BaseApi",
            "Called inside `safe`'s except block: a custom column dropped by hand is reflected and the call retried.",
            overridden_by=("views.api.CrmRestApi",)),
    Surface("get", "flask_appbuilder.api.manager.OpenApi",
            "/api/v1/_openapi serves the document derived from the models (app/crud/openapi.py).",
            overridden_by=("views.api.CrmOpenApi",)),
    Surface("login", "flask_appbuilder.security.api.SecurityApi",
            "A body without `provider` is a 400 (FAB reads it unchecked: a 500).",
            overridden_by=("views.api.SecurityApi",)),
    # --- security manager (app/security/manager.py): the seed's tables, lockout, token revocation
    Surface("invalid_login_message", "flask_appbuilder.security.views.AuthView",
            "One message for every refusal (no account enumeration), the disabled account named only "
            "to its owner.", overridden_by=("app.security.manager.CrmAuthDBView",)),
    Surface("__init__", _SM, "Installs the password policy before FAB reads its configuration.",
            overridden_by=(_CRM_SM,)),
    Surface("auth_user_db", _BASE_SM, "Sign-in with lockout, rate limits and audit.", overridden_by=(_CRM_SM,)),
    Surface("reset_password", _BASE_SM, "A password change ends the user's other sessions and tokens.",
            overridden_by=(_CRM_SM,)),
    Surface("create_jwt_manager", _BASE_SM, "Tokens carry their issue time in microseconds and can be revoked.",
            overridden_by=(_CRM_SM,)),
    Surface("validate_api_key", _SM,
            "API keys in our table (api_keys, SHA-256, last use, audit); a refused key is a 401 with "
            "its reason (app/security/api_keys.py).", overridden_by=(_CRM_SM,)),
    Surface("register_views", _SM, "The admin screens of this app under one Admin menu.",
            overridden_by=(_CRM_SM,)),
    Surface("add_user", _SM, "Users have one role (users.role_id).", overridden_by=(_CRM_SM,)),
    Surface("exist_permission_on_roles", _SM, "One permission query per request, not one per menu entry.",
            overridden_by=(_CRM_SM,)),
    Surface("has_access", _BASE_SM, "Answered once per request and identity: a list page asks a dozen times.",
            overridden_by=(_CRM_SM,)),
    Surface("find_roles_permission_view_menus", _SM,
            "The seed's permissions table names its key permission_id.", overridden_by=(_CRM_SM,)),
    Surface("get_db_role_permissions", _SM, "As find_roles_permission_view_menus.", overridden_by=(_CRM_SM,)),
    Surface("get_user_roles_permissions", _SM, "As find_roles_permission_view_menus.", overridden_by=(_CRM_SM,)),
    Surface("add_permission_view_menu", _SM, "As find_roles_permission_view_menus.", overridden_by=(_CRM_SM,)),
)

SURFACE = PRIVATE + PUBLIC


@dataclass(frozen=True)
class TemplateCopy:
    path: str  # the same under app/templates/ and under FAB's templates/
    fab_sha256: str  # of FAB's original (FAB_VERSION_CHECKED) our copy was made from
    why: str  # what our copy changes


TEMPLATES = (
    TemplateCopy("appbuilder/init.html",
                 "63cd58ec542d996fa33839b677cbe2c089da35a0085222ad01b2bfcb8a119cb8",
                 "The whole page's skeleton: `<html lang>` in the user's language (en, zh-CN)."),
    TemplateCopy("appbuilder/navbar_menu.html",
                 "c80d05552fa166cfb60a766f857def9b6d602b8983c8fbc9dc50c9c29fb0ca1c",
                 "Keyboard-usable menu: no tabindex=-1 on its entries, icons hidden from assistive technology."),
    TemplateCopy("appbuilder/general/confirm.html",
                 "b40fa102c061f75bc43de5b65b90f4858d1b5fe8d223ad49c99c0e894125c062",
                 "The confirmation's Cancel and OK buttons translatable."),
    TemplateCopy("appbuilder/general/model/list.html",
                 "7c11106ff27fb6d248f340f40b533d8c8d06f70db9724a1293bc4e6b3993e597",
                 "The panel title is the page's <h1> (crm/page_heading.html)."),
    TemplateCopy("appbuilder/general/model/add.html",
                 "321397131fa0a95f023ca86ada387c4f88aa56049b59dc3d4a088c7df08a7290",
                 "As model/list.html."),
    TemplateCopy("appbuilder/general/model/edit.html",
                 "a10db10430c6aa9fe27f160900d700ab1a2f7443b714e0c2550acb4f66fe3a66",
                 "As model/list.html."),
    TemplateCopy("appbuilder/general/model/show.html",
                 "67a574db1dc124a2216ff7a685718044bfe0f78f85d67116915e09aee522a1ea",
                 "As model/list.html."),
    TemplateCopy("appbuilder/general/widgets/list.html",
                 "2a0fad48fe42239c756dbc963dcefa3cba1181c6d699378bc811dd081ebdb662",
                 "Named row checkboxes and the shared header (crm/list_header.html); the CRM lists extend it."),
    TemplateCopy("appbuilder/general/widgets/roles/list.html",
                 "fbf2cb3dbc25ccb6673f8478c3e87bb1c170c22a7663f889ee9e94650bbca818",
                 "As widgets/list.html, for the roles list."),
    TemplateCopy("appbuilder/general/widgets/search.html",
                 "36c988fa2af397d9471690521224384abc13a4156b3bc744459f59ba7c7471c0",
                 "Its script waits for DOMContentLoaded (FAB's filter script and jQuery load deferred)."),
)

"""Each role's data scope per owned table (own / team / all), as the permission matrix sets it and the lists
read it. The database enforces the scope (row-level security, migration 0026); this module reads and
saves it and says which "Mine / My team / All" choices a user's lists offer.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.lists.scope import data_scope
from app.models import RoleDataScope
from app.models.ownership import DEFAULT_SCOPE, OWNED_TABLES, SCOPES

SCOPE_LABELS = {"own": _l("Own records"), "team": _l("Own team's records"), "all": _l("All records")}
# the switch on a list: what each choice shows (narrowest first)
VIEW_LABELS = {"own": _l("Mine"), "team": _l("My team"), "all": _l("All")}


def scopes_of(role_id: int) -> dict[str, str]:
    """{owned table: scope} of a role; a table without a row is 'own'."""
    found = dict(db.session.execute(select(RoleDataScope.table_name, RoleDataScope.scope)
                                    .where(RoleDataScope.role_id == role_id)).all())
    return {table: found.get(table, DEFAULT_SCOPE) for table in OWNED_TABLES}


def save_scopes(role_id: int, wanted: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Set the scopes named in `wanted` (unknown tables or scopes ignored); {table: (old, new)} changed.
    The caller commits; the table's audit trigger logs each change (migration 0026)."""
    before = scopes_of(role_id)
    changed = {table: (before[table], scope) for table, scope in wanted.items()
               if table in OWNED_TABLES and scope in SCOPES and scope != before[table]}
    for table, (_old, scope) in changed.items():  # one audited update (or insert) per table
        db.session.execute(insert(RoleDataScope).values(role_id=role_id, table_name=table, scope=scope)
                           .on_conflict_do_update(index_elements=["role_id", "table_name"], set_={"scope": scope}))
    return changed


def user_scope(table: str) -> str:
    """The acting user's scope on `table`, as the row-level policies see it ('own' without a user)."""
    return data_scope(table) or DEFAULT_SCOPE if table in OWNED_TABLES else DEFAULT_SCOPE


def view_choices(scope: str, has_team: bool) -> list[str]:
    """The switch's choices for a scope: none for 'own' (the user sees only their own anyway)."""
    if scope == "own":
        return []
    choices = ["own", "team"] if has_team else ["own"]
    return choices + ["all"] if scope == "all" else choices

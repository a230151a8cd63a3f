"""The pipeline board: opportunities by stage, bounded for millions of rows, and moving a card.

* Cards: the CARDS_PER_STAGE newest by close date per stage (then those without a
  close date), read through ix_opportunities_stage_close_date; a link lists the rest.
* Counts: one GROUP BY in SQL over the filtered rows.
* Value sums: amounts are ciphertext, so they are decrypted and added in Python.
  A column's sum is exact when it holds at most EXACT_SUM_CAP values; beyond that
  it is the latest `pipeline_by_stage` report snapshot when no filter is set
  (labelled with its time), otherwise an estimate (mean of the newest
  EXACT_SUM_CAP values × the column's count), labelled "≈". Never millions of
  decryptions in a request.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.models.choices import OPPORTUNITY_STAGES
from app.sales.customer360 import sum_values
from app.crud.refusals import friendly
from app.encryption.columns import BAND_LABELS
from app.extensions import db
from app.search.text import like_pattern
from app.models import Customer, Opportunity, User

CARDS_PER_STAGE = 50
EXACT_SUM_CAP = 2_000
INDUSTRY_MAX = 255


class BadFilter(ValueError):
    """A filter value that cannot be used; the message is for the user."""


def _date(args: Mapping[str, str], name: str, label: str) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(_("%(field)s: not a valid date (YYYY-MM-DD).", field=label)) from None


def _key(args: Mapping[str, str], name: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 2**31 - 1:
        raise BadFilter(_("%(field)s: not a record number.", field=name))
    return int(raw)


@dataclass(frozen=True)
class BoardFilters:
    industry: str = ""
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    band: int | None = None
    owner: int | None = None  # ?owner=<user id>: "Mine" (app/security/my_records.py)
    team: int | None = None  # ?team=<team id>: "My team"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "BoardFilters":
        industry = (args.get("industry") or "").strip()
        if len(industry) > INDUSTRY_MAX or any(ord(c) < 32 for c in industry):
            raise BadFilter(_("Industry: at most %(n)s characters, no control characters.", n=INDUSTRY_MAX))
        band_text = (args.get("band") or "").strip()
        band = None
        if band_text:
            if not band_text.isdigit() or int(band_text) >= len(BAND_LABELS):
                raise BadFilter(_("Value band: not one of the bands."))
            band = int(band_text)
        close_from = _date(args, "close_from", _("Close date from"))
        close_to = _date(args, "close_to", _("Close date to"))
        if close_from and close_to and close_from > close_to:
            raise BadFilter(_("Close date: the start is after the end."))
        owner, team = _key(args, "owner"), _key(args, "team")
        return cls(industry, close_from, close_to, band, owner, team)

    @property
    def active(self) -> bool:
        return bool(self.industry or self.close_from or self.close_to or self.band is not None
                    or self.owner is not None or self.team is not None)

    def conditions(self) -> list[Any]:
        found = []
        if self.industry:
            found.append(Opportunity.customer_id.in_(select(Customer.customer_id).where(
                Customer.industry.ilike(like_pattern(self.industry), escape="\\"))))
        if self.close_from:
            found.append(Opportunity.close_date >= self.close_from)
        if self.close_to:
            found.append(Opportunity.close_date <= self.close_to)
        if self.band is not None:
            found.append(Opportunity.value_band == self.band)
        if self.owner is not None:
            found.append(Opportunity.owner_id == self.owner)
        if self.team is not None:
            found.append(Opportunity.owner_id.in_(select(User.user_id).where(User.team_id == self.team)))
        return found


@dataclass
class Column:
    stage: str
    cards: list[Opportunity]
    count: int
    valued: int  # how many have a value
    value: Decimal | None = None
    value_kind: str = "exact"  # exact | snapshot | estimate
    value_note: str = ""
    more_url: str | None = None

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards))


def _cards(stage: str, where: list[Any]) -> list[Opportunity]:
    base = select(Opportunity).options(joinedload(Opportunity.customer)).where(Opportunity.stage == stage, *where)
    dated = db.session.scalars(base.where(Opportunity.close_date.is_not(None))
                               .order_by(Opportunity.close_date.desc(), Opportunity.opportunity_id.desc())
                               .limit(CARDS_PER_STAGE)).all()
    if len(dated) == CARDS_PER_STAGE:
        return list(dated)
    undated = db.session.scalars(base.where(Opportunity.close_date.is_(None))
                                 .order_by(Opportunity.opportunity_id.desc())
                                 .limit(CARDS_PER_STAGE - len(dated))).all()
    return [*dated, *undated]


def _snapshot_values() -> tuple[dict[str, float], dt.datetime] | None:
    from app.reports.snapshots import latest

    snapshot = latest().get("pipeline_by_stage")
    if snapshot is None:
        return None
    return {s["stage"]: s["value"] for s in snapshot.data.get("stages", [])}, snapshot.generated_at


def board(filters: BoardFilters) -> list[Column]:
    where = filters.conditions()
    counts = {stage: (n, valued) for stage, n, valued in db.session.execute(
        select(Opportunity.stage, func.count(), func.count(Opportunity.value_band))
        .where(*where).group_by(Opportunity.stage))}
    snapshot = None
    columns = []
    for stage in OPPORTUNITY_STAGES:
        count, valued = counts.get(stage, (0, 0))
        column = Column(stage, _cards(stage, where), count, valued)
        if valued <= EXACT_SUM_CAP:
            column.value = sum_values(and_(Opportunity.stage == stage, *where), EXACT_SUM_CAP).total
        else:
            if not filters.active and snapshot is None:
                snapshot = _snapshot_values() or ({}, None)
            if not filters.active and stage in snapshot[0]:
                column.value, column.value_kind = Decimal(str(snapshot[0][stage])), "snapshot"
                column.value_note = _("report of %(when)s UTC", when=f"{snapshot[1]:%Y-%m-%d %H:%M}")
            else:
                sample = sum_values(and_(Opportunity.stage == stage, *where), EXACT_SUM_CAP)
                column.value = (sample.total / sample.summed * valued).quantize(Decimal("1"))
                column.value_kind = "estimate"
                column.value_note = _("estimated from the %(n)s newest", n=f"{EXACT_SUM_CAP:,}")
        columns.append(column)
    return columns


class MoveRefused(Exception):
    """A card move that was not saved; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_move(body: Any) -> tuple[int, str, int]:
    """(opportunity id, stage, version) from a move request's JSON, or MoveRefused(400)."""
    if not isinstance(body, dict):
        raise MoveRefused(_("Send a JSON object with opportunity, stage and version."), 400)
    values = []
    for name in ("opportunity", "version"):
        value = body.get(name)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 2**31 - 1:
            raise MoveRefused(_("%(field)s: expected a positive whole number.", field=name), 400)
        values.append(value)
    stage = body.get("stage")
    if stage not in OPPORTUNITY_STAGES:
        raise MoveRefused(_("Stage: not one of %(stages)s.", stages=", ".join(OPPORTUNITY_STAGES)), 400)
    return values[0], stage, values[1]


def move(opportunity_id: int, stage: str, version: int) -> Opportunity:
    """Move a card to `stage` if nobody changed it since `version` (commits); MoveRefused otherwise."""
    opportunity = db.session.get(Opportunity, opportunity_id)
    if opportunity is None:
        raise MoveRefused(_("This opportunity no longer exists."), 404)
    if opportunity.version != version:
        raise MoveRefused(_("Someone else changed “%(name)s” after you loaded the board; it was not moved. "
                            "Reload the board to see the current stage.", name=opportunity.name), 409)
    opportunity.stage = stage
    try:
        db.session.commit()  # the UPDATE carries WHERE version = <loaded>: a concurrent save is StaleDataError
    except StaleDataError:
        db.session.rollback()
        raise MoveRefused(_("Someone else changed this opportunity at the same time; it was not moved. "
                            "Reload the board."), 409) from None
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise MoveRefused(friendly(exc), 422) from None
    return opportunity

"""The CRM tables of the seed design, with exactly its table and column names."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.choices import (
    ACTIVITY_TYPES,
    LEAD_STATUSES,
    OPPORTUNITY_STAGES,
    PRIORITIES,
    TICKET_STATUSES,
    check_sql,
)
from app.encryption.columns import BAND_LABELS, EncryptedAmount, band_column
from app.models.names import person_name
from app.models.base import UTC_NOW, Model, TimestampMixin, VersionedMixin
from app.models.ownership import OWNER_DEFAULT

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_RE = r"^\+?[0-9][0-9 ()./-]{3,48}[0-9]$"
READ_ONLY = {"read_only": True}  # column info: shown on screens, never in a form (set by a workflow)


def band_checks(column: str) -> CheckConstraint:
    """A band is set exactly when its amount is, and within the known bands."""
    return CheckConstraint(
        f"({column} IS NULL) = ({column}_band IS NULL) AND {column}_band BETWEEN 0 AND {len(BAND_LABELS) - 1}",
        name=f"{column}_band")


def _fk(target: str, *, nullable: bool = True, index: bool = True):
    """A foreign key that refuses to orphan rows (RESTRICT), always indexed (seed §3)."""
    return mapped_column(
        Integer, ForeignKey(target, ondelete="RESTRICT"), nullable=nullable, index=index
    )


def _owner():
    """The record's owner: its creator by default (the acting user); RESTRICT keeps a user with records."""
    return mapped_column(Integer, ForeignKey("users.user_id", ondelete="RESTRICT"),
                         server_default=OWNER_DEFAULT, info=READ_ONLY)


def _owner_index(table: str, key: str) -> Index:
    """(owner_id, key): a list by owner, and the row-level policies' owner test, are index range scans."""
    return Index(f"ix_{table}_owner_id", "owner_id", key)


def _children(target: str, back: str):
    # passive_deletes="all": never let the ORM null out children; the
    # database's RESTRICT decides, so a customer with contacts cannot vanish.
    return relationship(target, back_populates=back, passive_deletes="all", lazy="dynamic")


class Customer(VersionedMixin, Model):
    __tablename__ = "customers"
    __table_args__ = (
        band_checks("revenue"), _owner_index("customers", "customer_id"),
        # the follower policies' lookup of a row's customer and its owner, index-only (migration 0034)
        Index("ix_customers_customer_id_owner_id", "customer_id", unique=True, postgresql_include=["owner_id"]),
    )

    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    industry: Mapped[Optional[str]] = mapped_column(String(255))
    location: Mapped[Optional[str]] = mapped_column(String(255))
    revenue: Mapped[Optional[Decimal]] = mapped_column(EncryptedAmount())  # ciphertext in the database
    revenue_band: Mapped[Optional[int]] = band_column()
    owner_id: Mapped[Optional[int]] = _owner()

    owner = relationship("User", foreign_keys=[owner_id])

    contacts = _children("Contact", "customer")
    opportunities = _children("Opportunity", "customer")
    activities = _children("Activity", "customer")
    service_tickets = _children("ServiceTicket", "customer")
    converted_leads = _children("Lead", "converted_customer")

    def __repr__(self) -> str:
        return self.name


class Contact(VersionedMixin, Model):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(f"email ~* '{EMAIL_RE}'", name="email_format"),
        CheckConstraint(f"phone ~ '{PHONE_RE}'", name="phone_format"),
    )

    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = _fk("customers.customer_id", nullable=False)
    first_name: Mapped[str] = mapped_column(String(255), nullable=False)
    last_name: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[Optional[str]] = mapped_column(String(255))
    phone: Mapped[Optional[str]] = mapped_column(String(50))
    position: Mapped[Optional[str]] = mapped_column(String(255))

    customer = relationship("Customer", back_populates="contacts")
    leads = _children("Lead", "contact")
    activities = _children("Activity", "contact")

    @property
    def full_name(self) -> str:
        """In the order of the user's language (app/i18n/names.py)."""
        return person_name(self.first_name, self.last_name)

    def __repr__(self) -> str:
        return self.full_name


class Lead(VersionedMixin, Model):
    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(check_sql("status", LEAD_STATUSES), name="status"),
        # a conversion is recorded whole, and a converted lead stays converted
        CheckConstraint("(converted_at IS NULL) = (converted_customer_id IS NULL) "
                        "AND (converted_at IS NULL) = (converted_opportunity_id IS NULL) "
                        "AND (converted_at IS NULL OR status = 'converted')", name="conversion"),
        _owner_index("leads", "lead_id"),
    )

    lead_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[Optional[str]] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(50), nullable=False, server_default="new")
    contact_id: Mapped[Optional[int]] = _fk("contacts.contact_id")
    converted_customer_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("customers.customer_id", ondelete="RESTRICT"), index=True, info=READ_ONLY)
    converted_opportunity_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("opportunities.opportunity_id", ondelete="RESTRICT"), index=True, info=READ_ONLY)
    converted_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, info=READ_ONLY)
    # SET NULL: deleting a user account must not be blocked by sales history; the audit log keeps the name
    converted_by: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("users.user_id", ondelete="SET NULL"), index=True, info=READ_ONLY)
    owner_id: Mapped[Optional[int]] = _owner()

    contact = relationship("Contact", back_populates="leads")
    converted_customer = relationship("Customer", back_populates="converted_leads")
    converted_opportunity = relationship("Opportunity", back_populates="converted_leads")
    converted_by_user = relationship("User", foreign_keys=[converted_by], viewonly=True)
    owner = relationship("User", foreign_keys=[owner_id])

    def __repr__(self) -> str:
        return f"Lead #{self.lead_id} ({self.source or '-'})"


class Opportunity(VersionedMixin, Model):
    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint(check_sql("stage", OPPORTUNITY_STAGES), name="stage"),
        band_checks("value"),
        # the pipeline board: newest cards of a stage by close date, counts per stage
        Index("ix_opportunities_stage_close_date", "stage", "close_date", "opportunity_id"),
        # a customer's open opportunities, closing soonest first (the Customer 360 panel; migration 0014)
        Index("ix_opportunities_customer_open", "customer_id", "close_date", "opportunity_id",
              postgresql_where=text("(stage)::text = ANY ('{initial,qualification,proposal,negotiation}'::text[])")),
        _owner_index("opportunities", "opportunity_id"),
    )

    opportunity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = _fk("customers.customer_id", nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    stage: Mapped[str] = mapped_column(String(50), nullable=False, server_default="initial")
    value: Mapped[Optional[Decimal]] = mapped_column(EncryptedAmount())  # ciphertext in the database
    value_band: Mapped[Optional[int]] = band_column()
    close_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    owner_id: Mapped[Optional[int]] = _owner()

    customer = relationship("Customer", back_populates="opportunities")
    owner = relationship("User", foreign_keys=[owner_id])
    converted_leads = _children("Lead", "converted_opportunity")

    def __repr__(self) -> str:
        return self.name


class Activity(VersionedMixin, Model):
    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint(check_sql("type", ACTIVITY_TYPES), name="type"),
        # a customer's timeline reads ix_activities_customer_id_activity_date (list_indexes.py, migrations 0010,
        # 0034: it carries contact_id, which the follower policy reads)
        # a scoped user's activities of one type, from their customers (CrmInterface.followed_filtered, 0033)
        Index("ix_activities_customer_id_type", "customer_id", "type"),
    )

    activity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[Optional[int]] = _fk("customers.customer_id")
    contact_id: Mapped[Optional[int]] = _fk("contacts.contact_id")
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    activity_date: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, server_default=UTC_NOW
    )

    customer = relationship("Customer", back_populates="activities")
    contact = relationship("Contact", back_populates="activities")

    def __repr__(self) -> str:
        return self.subject


class ServiceTicket(VersionedMixin, Model):
    __tablename__ = "service_tickets"
    __table_args__ = (
        CheckConstraint(check_sql("status", TICKET_STATUSES), name="status"),
        CheckConstraint(check_sql("priority", PRIORITIES), name="priority"),
        Index("ix_service_tickets_customer_timeline", "customer_id", "created_at", "ticket_id"),
        _owner_index("service_tickets", "ticket_id"),
    )

    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = _fk("customers.customer_id", nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(50), nullable=False, server_default="open")
    priority: Mapped[str] = mapped_column(String(50), nullable=False, server_default="medium")
    owner_id: Mapped[Optional[int]] = _owner()

    customer = relationship("Customer", back_populates="service_tickets")
    owner = relationship("User", foreign_keys=[owner_id])

    def __repr__(self) -> str:
        return self.subject


class Report(TimestampMixin, Model):
    __tablename__ = "reports"
    # the newest snapshot of a type is one backward probe (the dashboard), however long the history
    __table_args__ = (Index("ix_reports_report_type_generated_at", "report_type", "generated_at", "report_id"),)

    report_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_type: Mapped[str] = mapped_column(String(255), nullable=False)
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    generated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, server_default=UTC_NOW, index=True
    )

    def __repr__(self) -> str:
        return f"{self.report_type} @ {self.generated_at:%Y-%m-%d %H:%M}"


class Log(Model):
    """The audit log: partitioned by month on created_at (see migration 0006), append-only.

    user_id names the application user but is not a foreign key: the log must
    outlive the users it names. The mapper's key is log_id alone (the table's is
    (log_id, created_at), as partitioning requires) so screens address rows by id.
    """

    __tablename__ = "logs"
    __table_args__ = (
        Index("ix_logs_created_at_log_id", "created_at", "log_id"),
        Index("ix_logs_user_id", "user_id", "created_at", "log_id"),
        Index("ix_logs_table_name_record_key", "table_name", "record_key", "created_at", "log_id"),
        Index("ix_logs_action", "action", "created_at", "log_id"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[Optional[int]] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, primary_key=True, nullable=False, server_default=UTC_NOW
    )
    table_name: Mapped[Optional[str]] = mapped_column(String(63))
    record_key: Mapped[Optional[str]] = mapped_column(String(255))

    user = relationship("User", primaryjoin="foreign(Log.user_id) == User.user_id", viewonly=True,
                        lazy="joined")

    __mapper_args__ = {"primary_key": [log_id]}

    def __repr__(self) -> str:
        return f"{self.action} #{self.log_id}"

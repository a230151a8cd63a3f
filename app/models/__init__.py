"""All mapped tables; importing this package registers them on FAB's metadata."""
from app.models.base import Model
from app.models.crm import (
    Activity,
    Contact,
    Customer,
    Lead,
    Log,
    Opportunity,
    Report,
    ServiceTicket,
)
from app.models.security import Action, Permission, Resource, Role, User, role_permissions
from app.models.security_state import (
    DefaultRole,
    DefaultRoleGrant,
    LoginAddress,
    LoginRateWindow,
    SyncedPermission,
    SyncedResource,
    UserSession,
)

__all__ = [
    "Model", "Activity", "Contact", "Customer", "Lead", "Log", "Opportunity", "Report",
    "ServiceTicket", "Action", "Permission", "Resource", "Role", "User", "role_permissions",
    "DefaultRole", "DefaultRoleGrant", "LoginAddress", "LoginRateWindow", "SyncedResource", "UserSession",
    "SyncedPermission",
]

from app.models.csv_upload import CsvUpload  # noqa: E402

__all__ += ["CsvUpload"]

from app.models.api_keys import ApiKey, ApiKeyUse  # noqa: E402

__all__ += ["ApiKey", "ApiKeyUse"]

import app.models.search_indexes  # noqa: E402,F401  (search indexes of migration 0004)
import app.models.list_indexes  # noqa: E402,F401  (list sort/filter indexes of migration 0010)

from app.models.saved_view import SavedView  # noqa: E402
from app.models.scheduled_job import ScheduledJob  # noqa: E402
from app.models.webhooks import WebhookDelivery, WebhookSubscription  # noqa: E402

__all__ += ["SavedView", "ScheduledJob", "WebhookDelivery", "WebhookSubscription"]

from app.models.bulk_job import BulkJob, BulkJobPart  # noqa: E402

__all__ += ["BulkJob", "BulkJobPart"]

from app.models.ownership import RoleDataScope, Team  # noqa: E402

__all__ += ["RoleDataScope", "Team"]

from app.models.dashboard_layout import DashboardLayout  # noqa: E402

__all__ += ["DashboardLayout"]

from app.models.custom_field import CrmSchemaVersion, CustomField  # noqa: E402

__all__ += ["CrmSchemaVersion", "CustomField"]

from app.models.dashboard import DashboardFact, DashboardRefresh  # noqa: E402

__all__ += ["DashboardFact", "DashboardRefresh"]

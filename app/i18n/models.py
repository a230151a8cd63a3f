"""The models whose labels and titles are translated (every screen's model)."""
from app.models import Activity, Contact, Customer, Lead, Log, Opportunity, Report, ServiceTicket, Team
from app.models.security import Permission, Role, User

TRANSLATED_MODELS: list[type] = [Customer, Contact, Lead, Opportunity, Activity, ServiceTicket, Report, Log,
                                 User, Role, Permission, Team]

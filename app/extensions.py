"""Extension objects, created once and bound to each app in `create_app`."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.models.base import Model

db = SQLAlchemy(model_class=Model)
migrate = Migrate()

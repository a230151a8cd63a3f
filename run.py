"""Entry point for `flask --app run ...` and `gunicorn run:app`."""
import gc

from app import create_app

app = create_app()
# The app's own objects (FAB's views, forms, templates, SQLAlchemy's mappers) live as long as
# the process: out of the collector's sight, a full collection no longer walks them all
# (a pause in the middle of a request, once every few dozen pages; see docs/performance.md).
gc.freeze()

"""`python -m app.i18n [update|compile]`: see app/i18n/catalogs.py."""
import sys

from app.i18n.catalogs import main

sys.exit(main(sys.argv))

"""test_a11y_en.py's axe checks in Chinese: a module of its own, so pytest-xdist runs the two side by side."""
from __future__ import annotations

import pytest

from tests.browser.test_a11y_en import (  # noqa: F401 (collected here again, in this module's language)
    run, test_no_axe_violation_on_any_screen, test_the_skip_link_is_the_first_tab_stop_and_leads_to_the_main_content)

pytestmark = pytest.mark.browser
LANG = "zh"

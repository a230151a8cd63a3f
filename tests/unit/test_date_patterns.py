"""List cells' dates: the compiled patterns write what Babel writes, in every language's medium format."""
from __future__ import annotations

import datetime as dt
import random

import pytest
import pytz
from babel import Locale
from babel.dates import parse_pattern

from app.i18n.formatting import compiled_pattern, datetime_pattern

LANGUAGES = ("en", "zh", "zh_Hans_CN", "de", "fr", "ja", "ko", "ru")


def _moments(seed: int, count: int = 2000) -> list[dt.datetime]:
    rng = random.Random(seed)
    return [dt.datetime(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                        rng.randint(0, 59), rng.randint(0, 59), tzinfo=pytz.UTC) for _ in range(count)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_languages_medium_dates_and_times_read_as_babels(language):
    locale = Locale.parse(language)
    patterns = [datetime_pattern(locale, False), datetime_pattern(locale, True),
                locale.date_formats["medium"].pattern, locale.date_formats["long"].pattern]
    for text in patterns:
        write = compiled_pattern(text, Locale.parse(language))
        dates_only = not any(field in text for field in "Hms")
        for moment in _moments(len(text)):
            assert write(moment) == parse_pattern(text).apply(moment, locale), (text, moment)
            if dates_only:  # a list's date column
                assert write(moment.date()) == parse_pattern(text).apply(moment.date(), locale), (text, moment)


def test_fields_not_written_here_are_babels_own():
    locale = Locale.parse("en")
    for text in ("EEEE, MMMM d, y 'at' h:mm a", "yy-MM-dd LLLL", "QQQ y"):
        write = compiled_pattern(text, locale)
        for moment in _moments(7, 200):
            assert write(moment) == parse_pattern(text).apply(moment, locale), text

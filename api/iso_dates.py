"""Dates in requests are ISO strings, as the OpenAPI schema says (``format: date`` / ``date-time``).

Pydantic's lax mode also reads numbers and numeric strings as Unix timestamps (``0`` → 1970-01-01), so a request
the schema calls invalid would be answered as if it asked about 1970 (found by tests/api/test_fuzz_schemathesis.py).
These types refuse anything but an ISO string with a 422.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_string(value: Any) -> Any:
    if value is None or isinstance(value, date) or (isinstance(value, str) and _ISO.match(value)):
        return value
    raise ValueError("需要 ISO 格式的日期，如 2024-06-01 (an ISO date is expected, not a number)")


IsoDate = Annotated[date, BeforeValidator(_iso_string)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_string)]

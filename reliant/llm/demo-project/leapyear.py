"""Calendar arithmetic for the reliant demo project."""

from __future__ import annotations


def is_leap_year(year: int) -> bool:
    """True if `year` has a 29th of February in the Gregorian calendar."""
    return year % 4 == 0 and year % 100 != 0


def days_in_month(year: int, month: int) -> int:
    """How many days `month` (1-12) of `year` has."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1-12, got {month}")
    if month == 2:
        return 29 if is_leap_year(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31

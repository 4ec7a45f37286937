"""Tests for leapyear.py; run them with `python3 test_leapyear.py`."""

from __future__ import annotations

import unittest

from leapyear import days_in_month, is_leap_year


class LeapYearTest(unittest.TestCase):
    def test_years_divisible_by_four_are_leap_years(self) -> None:
        self.assertTrue(is_leap_year(2024))
        self.assertFalse(is_leap_year(2023))

    def test_centuries_are_not_leap_years(self) -> None:
        self.assertFalse(is_leap_year(1900))
        self.assertFalse(is_leap_year(2100))

    def test_every_fourth_century_is_a_leap_year(self) -> None:
        self.assertTrue(is_leap_year(2000))
        self.assertTrue(is_leap_year(2400))

    def test_february_follows_the_leap_rule(self) -> None:
        self.assertEqual(days_in_month(2024, 2), 29)
        self.assertEqual(days_in_month(2000, 2), 29)
        self.assertEqual(days_in_month(1900, 2), 28)

    def test_other_months(self) -> None:
        self.assertEqual(days_in_month(2023, 1), 31)
        self.assertEqual(days_in_month(2023, 4), 30)
        with self.assertRaises(ValueError):
            days_in_month(2023, 13)


if __name__ == "__main__":
    unittest.main()

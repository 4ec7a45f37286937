"""Frozen dataclasses and enums shared across roles. No I/O."""

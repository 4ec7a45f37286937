"""reliant: run AI software-engineering agents on your own machine."""

__version__ = "0.1.0"

"""Logto-compatible machine-to-machine authorization for Django."""

__version__ = "0.1.0"

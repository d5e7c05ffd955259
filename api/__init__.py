"""Minsheng HTTP API and command line."""

"""Shared helpers for the harness's own tests (fixtures only, no logic)."""

pytest_plugins = ["pytester"]

"""Site hooks only: the harness itself is the `harness.plugin` pytest plugin,
registered through the `pytest11` entry point in pyproject.toml."""

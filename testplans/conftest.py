"""The beta plan: declarative tables in plan_*.py; collection is harness.plugin's."""

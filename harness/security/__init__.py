"""Security checks of the system under test that are opt-in (pytest marker `security`):
malformed input replayed at the switch, on loopback only."""

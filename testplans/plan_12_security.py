"""Beta plan §12 — security: what an attacker on the access side must not get.

Every row runs against the switch `--sut` names, alone (no plan call up meanwhile),
and is judged by what reached the simulated PSTN or a beta line during it, not by
the switch's answer alone (docs/security.md). Probes dial only numbers of the test
plan (the dial guard), from `security.probe_source`, bounded in count.

Rows 12.7-12.9 are part of the plan only where `security.binds_lines_to_addresses`
says the switch binds a line to its registered address; 12.13 only with
`security.torture: true`.
"""

from harness.model import ProbeExpect, ProbeKind, ProbeSpec

INTL, LD, PREMIUM = "011442079460123", "12125550123", "19005550100"
K = ProbeKind

PLAN = [
    ProbeSpec("12.1", "unauthenticated INVITE international", K.UNAUTHENTICATED_INVITE,
              INTL, line="site7/12"),
    ProbeSpec("12.2", "unauthenticated INVITE long distance", K.UNAUTHENTICATED_INVITE,
              LD, line="site7/12"),
    ProbeSpec("12.3", "unauthenticated INVITE premium rate", K.UNAUTHENTICATED_INVITE,
              PREMIUM, line="site7/12"),
    ProbeSpec("12.4", "wrong password INVITE international", K.WRONG_PASSWORD_INVITE,
              INTL, line="site7/12"),
    ProbeSpec("12.5", "wrong password INVITE long distance", K.WRONG_PASSWORD_INVITE,
              LD, line="site7/12"),
    ProbeSpec("12.6", "wrong password INVITE premium rate", K.WRONG_PASSWORD_INVITE,
              PREMIUM, line="site7/12"),
    ProbeSpec("12.7", "replayed credentials INVITE international",
              K.REPLAYED_CREDENTIALS_INVITE, INTL, line="site7/12"),
    ProbeSpec("12.8", "replayed credentials INVITE long distance",
              K.REPLAYED_CREDENTIALS_INVITE, LD, line="site7/12"),
    ProbeSpec("12.9", "replayed credentials INVITE premium rate",
              K.REPLAYED_CREDENTIALS_INVITE, PREMIUM, line="site7/12"),
    ProbeSpec("12.10", "wrong password never registers", K.WRONG_PASSWORD_REGISTER,
              line="site7/12"),
    ProbeSpec("12.11", "REGISTER hijack of a line's contact", K.REGISTER_HIJACK, "site7/10",
              line="site7/11", real_caller="site7/09", real_dial="site7/10",
              expect=ProbeExpect(setup_s_max=5.0),
              description="no credentials, then another line's; then a real call to the "
                          "line must ring the line and never the hijacker's contact"),
    ProbeSpec("12.12", "INVITE flood during a real call", K.INVITE_FLOOD, LD, line="site7/12",
              real_caller="site7/01", real_dial="site7/02",
              expect=ProbeExpect(setup_s_max=5.0),
              description="security.flood_count unauthenticated INVITEs at "
                          "security.flood_rate_cps; the real call set up during it"),
    ProbeSpec("12.13", "RFC 4475 torture replay", K.TORTURE, real_caller="site3/04",
              real_dial="site3/07", expect=ProbeExpect(setup_s_max=5.0),
              description="49 torture messages once each; a real call afterwards"),
]

"""SIP beta-acceptance harness.

Places real SIP calls through a softswitch, measures call set-up timing (RFC 6076),
reconciles the switch's CDRs and scores voice quality (ITU-T P.862), then writes a
machine-readable result file and an HTML acceptance report.
"""

__version__ = "0.1.0"

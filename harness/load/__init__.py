"""Background signalling load: SIPp calls through the switch while probe calls measure.

    BackgroundLoad (sipp.py)   starts the load sink (SIPp UAS) and the generator (SIPp
                               UAC), stops both on every exit path, reads their stats
    LoadStats (stats.py)       SIPp's statistics file and response times, parsed
    scenario.py                the two SIPp scenarios (digest auth, Record-Route)

Errors are `LoadError` (SIPp missing, could not start, refused target); a load that
ran but failed calls is not an error: it is reported as a load failure beside the
probe calls' figures (docs/load.md).
"""

from __future__ import annotations

from harness.errors import HarnessError


class LoadError(HarnessError):
    """The background load could not be started or its figures not read."""

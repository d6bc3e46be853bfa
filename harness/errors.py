"""The one error tree of the harness.

    HarnessError
    ├── ConfigError          bad config: names the file, the field and the value
    ├── DialGuardError       a dial string outside the configured test number plan
    ├── EnvironmentMissing   a program or Debian package the harness needs is absent
    ├── SoftswitchError      the system under test did not start / answer / accept config
    ├── SipError             the SIP agent layer failed (registration, call set-up)
    ├── CaptureError         packet capture could not start or be read
    ├── CdrError             a CDR source could not be read (names file, line, field)
    ├── MediaError           reference/recorded audio unusable (names the file)
    └── ReportError          the result database cannot be opened or holds no such run

Every message is one line that names the cause; callers never need a traceback to
know what to fix.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigError(HarnessError):
    def __init__(self, file: str, field: str, value: object, problem: str) -> None:
        self.file, self.field, self.value, self.problem = file, field, value, problem
        super().__init__(f"{file}: field '{field}' = {value!r}: {problem}")


class DialGuardError(HarnessError):
    def __init__(self, number: str, rule: str) -> None:
        self.number, self.rule = number, rule
        super().__init__(f"refused to dial {number!r}: {rule}")


class EnvironmentMissing(HarnessError):
    def __init__(self, program: str, package: str) -> None:
        self.program, self.package = program, package
        super().__init__(
            f"'{program}' not found: install the Debian package '{package}' "
            "(scripts/bootstrap.sh does this)"
        )


class SoftswitchError(HarnessError):
    pass


class SipError(HarnessError):
    pass


class CaptureError(HarnessError):
    pass


class CdrError(HarnessError):
    def __init__(self, source: str, problem: str, line: int | None = None,
                 field: str | None = None) -> None:
        where = source + (f":{line}" if line is not None else "")
        what = f" field '{field}'" if field else ""
        self.source, self.line, self.field = source, line, field
        super().__init__(f"{where}:{what} {problem}".replace(": ", ": ", 1))


class MediaError(HarnessError):
    pass


class ReportError(HarnessError):
    pass

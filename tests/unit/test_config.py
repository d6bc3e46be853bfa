from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError


def test_defaults_are_valid() -> None:
    cfg = load_config()
    assert cfg.numbers.sites * cfg.numbers.lines_per_site == 84
    assert cfg.media.clock_rate == 16000


def test_yaml_overrides_a_field(tmp_path: Path) -> None:
    f = tmp_path / "sut.yaml"
    f.write_text("guard:\n  stall_threshold_s: 0.25\n")
    cfg = load_config(f)
    assert cfg.guard.stall_threshold_s == 0.25
    assert cfg.source == str(f)


@pytest.mark.parametrize(("text", "field", "value"), [
    ("sut:\n  colour: blue\n", "sut.colour", "'blue'"),
    ("guard:\n  stall_threshold_s: fast\n", "guard.stall_threshold_s", "'fast'"),
    ("numbers:\n  first_line: '12345'\n", "numbers.first_line", "'12345'"),
    ("media:\n  clock_rate: 44100\n", "media.clock_rate", "44100"),
    ("sut:\n  sip_port: 80\n", "sut.sip_port", "80"),
    ("numbers:\n  caller_id_form_pstn: E164\n", "numbers.caller_id_form_pstn", "'E164'"),
    ("bogus: 1\n", "bogus", "1"),
])
def test_bad_input_names_file_field_and_value(tmp_path: Path, text: str, field: str,
                                              value: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert str(f) in msg and f"'{field}'" in msg and value in msg
    assert "\n" not in msg


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    f = tmp_path / "broken.yaml"
    f.write_text("sut: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)


def test_secrets_are_redacted(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("numbers:\n  line_password: hunter2\n")
    red = load_config(f).redacted()
    assert red["numbers"]["line_password"] == "***"
    assert "hunter2" not in repr(red)

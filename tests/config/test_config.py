"""Config: typed TOML, unknown keys and bad values named, data folder precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware import config
from firmware.errors import ConfigError
from tests.conftest import Cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "occur.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    cfg = config.load(None, environ={})
    assert cfg.data_dir == Path("data")
    assert cfg.storage.busy_timeout_ms == 5000
    assert cfg.paths.database == Path("data/occur.db")


def test_valid_file_is_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'data_dir = "/var/lib/occur"\n[device]\nid = "front-door"\n[storage]\nbusy_timeout_ms = 2500\n'
    )
    cfg = config.load(path, environ={})
    assert cfg.data_dir == Path("/var/lib/occur")
    assert cfg.device.id == "front-door"
    assert cfg.storage.busy_timeout_ms == 2500


def test_every_bad_key_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'colour = "red"\n[device]\nid = "has space"\n[storage]\nbusy_timeout_ms = "soon"\nmax_db_mb = -1\n'
        '[logging]\nlevel = "loud"\n[mystery]\nx = 1\n',
    )
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    keys = {key for key, _ in info.value.problems}
    assert keys == {"colour", "device.id", "storage.busy_timeout_ms", "storage.max_db_mb", "logging.level", "mystery"}
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[storage]\nbusy_timeout_ms = true\n", "storage.busy_timeout_ms"),
        ("[storage]\nbusy_timeout_ms = 1.5\n", "storage.busy_timeout_ms"),
        ("storage = 3\n", "storage"),
        ('data_dir = ""\n', "data_dir"),
        ("[device]\nname = 7\n", "device.name"),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text), environ={})
    assert [k for k, _ in info.value.problems] == [key]


def test_syntax_error_has_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, "[storage\nx=1\n"), environ={})
    assert "line 1" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.toml", environ={})


def test_data_dir_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, 'data_dir = "rel"\n')
    assert config.load(path, environ={}).data_dir == tmp_path / "rel"
    assert config.load(path, environ={"OCCUR_DATA_DIR": "/env"}).data_dir == Path("/env")
    assert config.load(path, data_dir="/flag", environ={"OCCUR_DATA_DIR": "/env"}).data_dir == Path("/flag")
    assert config.load(None, environ={"OCCUR_CONFIG": str(path)}).data_dir == tmp_path / "rel"


def test_check_config_command(tmp_path: Path, cli: Cli) -> None:
    good = write(tmp_path, "[storage]\nbusy_timeout_ms = 1000\n")
    result = cli("check-config", str(good))
    assert result.status == 0 and "ok" in result.out
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\nbusy_timeout_ms = 1\nnope = 2\n")
    result = cli("check-config", str(bad))
    assert result.status == 3
    assert "storage.busy_timeout_ms" in result.err and "storage.nope" in result.err


def test_broken_config_stops_any_command(tmp_path: Path, cli: Cli) -> None:
    bad = write(tmp_path, "[storage]\nbusy_timeout_ms = 0\n")
    result = cli("--config", str(bad), "events")
    assert result.status == 3
    assert result.err.startswith("occur: error:") and "storage.busy_timeout_ms" in result.err


def _float_keys() -> list[str]:
    """Every float setting of every section, as a dotted key."""
    import dataclasses
    import typing

    keys = []
    for section in dataclasses.fields(config.Config):
        cls = typing.get_type_hints(config.Config)[section.name]
        if not dataclasses.is_dataclass(cls):
            continue
        hints = typing.get_type_hints(cls)
        keys += [f"{section.name}.{f.name}" for f in dataclasses.fields(cls) if hints[f.name] is float]
    return keys


FLOAT_KEYS = _float_keys()


def test_there_are_float_settings_to_check() -> None:
    assert {"vision.threshold", "vision.margin", "door.pulse_s", "loop.unknown_match"} <= set(FLOAT_KEYS)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_every_float_setting_refuses_nan_and_infinity_by_name(tmp_path: Path, key: str, value: str) -> None:
    section, name = key.split(".")
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, f"[{section}]\n{name} = {value}\n"), environ={})
    assert [k for k, _ in info.value.problems] == [key]
    assert "finite" in info.value.problems[0][1]


def test_check_config_refuses_a_nan_threshold(tmp_path: Path, cli: Cli) -> None:
    path = write(tmp_path, "[vision]\nthreshold = nan\nmargin = inf\n")
    result = cli("check-config", str(path))
    assert result.status == 3
    assert "vision.threshold" in result.err and "vision.margin" in result.err and "finite" in result.err

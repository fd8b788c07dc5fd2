from __future__ import annotations

import base64
import json
import logging
import os
import stat
import warnings
from pathlib import Path

import pytest
from pydantic import SecretStr

from realname.config import Settings
from realname.errors import ConfigurationError
from realname.privacy.keys import (
    DevelopmentKeyWarning,
    Keyring,
    load_keyring,
    parse_master_key,
    save_keyring,
)

MASTER = bytes(range(32))


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"var_dir": tmp_path, "master_key": None, "keyring_file": None}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the keyring itself ----------------------------------------------------------------


def test_json_round_trip_keeps_every_key() -> None:
    keyring = Keyring.generate().rotate()
    again = Keyring.from_json(keyring.to_json())
    assert again == keyring
    assert again.current == "k2"
    assert set(again.kek_ids) == {"k1", "k2"}


def test_repr_shows_ids_but_no_key_material() -> None:
    keyring = Keyring.generate()
    text = repr(keyring)
    assert "k1" in text
    for key in (keyring.current_kek, keyring.index_key):
        assert base64.b64encode(key).decode() not in text
        assert key.hex() not in text
        assert repr(key) not in text


def test_master_key_derives_distinct_kek_and_index_key() -> None:
    keyring = Keyring.from_master_key(MASTER)
    assert keyring == Keyring.from_master_key(MASTER)
    assert keyring.current == "k1"
    assert keyring.current_kek != keyring.index_key
    assert MASTER not in (keyring.current_kek, keyring.index_key)
    assert Keyring.from_master_key(bytes(32)).index_key != keyring.index_key


def test_rotate_adds_a_current_kek_and_keeps_old_ones_and_the_index_key() -> None:
    first = Keyring.generate()
    second = first.rotate()
    third = second.rotate()
    assert (second.current, third.current) == ("k2", "k3")
    assert third.current == "k3"
    assert third.kek("k1") == first.current_kek
    assert third.kek("k2") == second.current_kek
    assert len({first.current_kek, second.current_kek, third.current_kek}) == 3
    assert third.index_key == first.index_key


def test_without_drops_an_old_kek_but_never_the_current_one() -> None:
    keyring = Keyring.generate().rotate()
    assert keyring.without("k1").kek_ids == ("k2",)
    with pytest.raises(ConfigurationError):
        keyring.without("k2")
    with pytest.raises(ConfigurationError):
        keyring.without("k9")


def test_union_refuses_conflicting_keys() -> None:
    a = Keyring.generate()
    b = Keyring(keks={"k1": os.urandom(32)}, current="k1", index_key=a.index_key)
    with pytest.raises(ConfigurationError):
        a.union(b)
    with pytest.raises(ConfigurationError):
        a.union(Keyring.generate())
    merged = a.union(a.rotate())
    assert merged.current == "k2"
    assert set(merged.kek_ids) == {"k1", "k2"}


@pytest.mark.parametrize(
    "document",
    [
        {"current": "k1", "keks": {"k1": base64.b64encode(bytes(31)).decode()}},
        {"current": "k2", "keks": {"k1": base64.b64encode(bytes(32)).decode()}},
        {"current": "k1", "keks": {}},
        {"current": "k1", "keks": {"bad id!": base64.b64encode(bytes(32)).decode()}},
        {"current": "k1", "keks": {"k1": "not base64 !!"}},
        {"current": "k1", "keks": {"k1": base64.b64encode(bytes(32)).decode()}, "version": 9},
        [],
    ],
)
def test_invalid_keyrings_are_configuration_errors(document: object) -> None:
    if isinstance(document, dict):
        document.setdefault("index_key", base64.b64encode(bytes(32)).decode())
    with pytest.raises(ConfigurationError):
        Keyring.from_json(json.dumps(document))


# --- REALNAME_MASTER_KEY -------------------------------------------------------------


def test_base64_master_key_standard_and_urlsafe() -> None:
    raw = bytes([0xFB, 0xFF] * 16)  # encodes with '+' '/' in standard, '-' '_' in urlsafe
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert "+" in standard or "/" in standard
    assert parse_master_key(standard) == Keyring.from_master_key(raw)
    assert parse_master_key(urlsafe) == Keyring.from_master_key(raw)


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(b"s3cr3t-but-only-31-bytes-long!!").decode(),
        "this is not base64 at all %%%",
        "",
        "{not json",
    ],
)
def test_bad_master_key_is_rejected_without_echoing_it(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_master_key(value)
    message = f"{info.value.message} {info.value.details}"
    if value.strip():
        assert value not in message


def test_load_keyring_prefers_the_environment_over_the_file(tmp_path: Path) -> None:
    save_keyring(Keyring.generate(), tmp_path / "keyring.json")
    encoded = base64.b64encode(MASTER).decode()
    loaded = load_keyring(settings(tmp_path, master_key=SecretStr(encoded)))
    assert loaded == Keyring.from_master_key(MASTER)


def test_load_keyring_accepts_a_json_keyring_in_the_environment(tmp_path: Path) -> None:
    keyring = Keyring.generate().rotate()
    loaded = load_keyring(settings(tmp_path, master_key=SecretStr(keyring.to_json())))
    assert loaded == keyring


# --- the keyring file ------------------------------------------------------------------


def test_save_keyring_is_private_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    first = Keyring.generate()
    save_keyring(first, path)
    assert mode(path) == 0o600
    second = first.rotate()
    save_keyring(second, path)
    assert mode(path) == 0o600
    assert Keyring.from_json(path.read_text()) == second
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json"]


def test_load_keyring_reads_the_file(tmp_path: Path) -> None:
    keyring = Keyring.generate().rotate()
    path = tmp_path / "elsewhere.json"
    save_keyring(keyring, path)
    assert load_keyring(settings(tmp_path, keyring_file=path)) == keyring


def test_unreadable_keyring_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    secret = base64.b64encode(b"x" * 31).decode()
    path.write_text(json.dumps({"current": "k1", "keks": {"k1": secret}, "index_key": secret}))
    with pytest.raises(ConfigurationError) as info:
        load_keyring(settings(tmp_path))
    assert secret not in f"{info.value.message} {info.value.details}"

    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigurationError):
        load_keyring(settings(tmp_path))


def test_group_readable_keyring_file_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(Keyring.generate(), path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="realname.privacy.keys"):
        load_keyring(settings(tmp_path))
    assert any("chmod 600" in r.getMessage() for r in caplog.records)


def test_development_keyring_is_generated_once_loudly_and_privately(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "var" / "keyring.json"
    with (
        caplog.at_level(logging.WARNING, logger="realname.privacy.keys"),
        pytest.warns(DevelopmentKeyWarning, match="DEVELOPMENT"),
    ):
        first = load_keyring(settings(tmp_path / "var"))
    assert any("DEVELOPMENT" in r.getMessage() for r in caplog.records)
    assert mode(path) == 0o600
    assert Keyring.from_json(path.read_text()) == first

    # The second start reuses the file, and says nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_keyring(settings(tmp_path / "var")) == first


def test_require_keys_refuses_to_generate(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_keyring(settings(tmp_path, require_keys=True))
    assert not (tmp_path / "keyring.json").exists()


def test_development_keyring_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_args: object) -> None:
        raise PermissionError("this filesystem has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    with pytest.warns(DevelopmentKeyWarning):
        first = load_keyring(settings(tmp_path))
    assert mode(tmp_path / "keyring.json") == 0o600
    assert load_keyring(settings(tmp_path)) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring.json"]


def test_two_processes_generating_at_once_agree(tmp_path: Path) -> None:
    """The second writer finds the first one's file and adopts it instead of overwriting."""
    from realname.privacy.keys import _create_keyring_file

    winner, loser = Keyring.generate(), Keyring.generate()
    assert _create_keyring_file(winner, tmp_path / "keyring.json")
    assert not _create_keyring_file(loser, tmp_path / "keyring.json")
    assert load_keyring(settings(tmp_path)) == winner

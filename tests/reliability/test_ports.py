"""The one port helper every local server uses: below the ephemeral range, never twice, never a held one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from include.devservices import ports


def test_ports_come_from_below_the_ephemeral_range_and_never_twice() -> None:
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == 50
    assert all(ports.LOWEST <= port < ports.ephemeral_floor() for port in handed)


def test_a_port_a_server_holds_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind((ports.HOST, 0))
        taken = held.getsockname()[1]
        held.listen()
        choices = iter([taken, taken + 1 if taken + 1 < 65535 else taken - 1])
        monkeypatch.setattr(ports.random, "randrange", lambda low, high: next(choices))
        monkeypatch.setattr(ports, "ephemeral_floor", lambda: 65535)
        assert ports.free_port() != taken


def test_no_free_port_is_an_error_naming_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "is_free", lambda port, host=ports.HOST: False)
    with pytest.raises(RuntimeError, match=r"no free port between 15000 and \d+ after 5 tries"):
        ports.free_port(attempts=5)


def test_an_unreadable_kernel_setting_reads_as_the_default_floor(tmp_path: Path) -> None:
    assert ports.ephemeral_floor(tmp_path / "missing") == 32768
    (tmp_path / "range").write_text("40000\t60999\n")
    assert ports.ephemeral_floor(tmp_path / "range") == 40000

"""Ports for the local servers the tests and the demo start: one helper for all of them.

``bind(("127.0.0.1", 0))`` hands out a port from the kernel's ephemeral range, the range every
outgoing connection's local port also comes from. Between that probe and the child server's own
bind, a client socket of another test worker could take the port (a CI flake seen more than once:
"address already in use"). Ports here come from below that range, where no client socket lands,
chosen at random so parallel workers rarely meet, probed before they are handed out, and never
handed out twice by one process. A start that still loses the race is retried by its caller
(``include.devservices.prometheus.started``).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"
LOWEST = 15000
_handed_out: set[int] = set()


def ephemeral_floor(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """The lowest port the kernel gives outgoing connections (32768 when it cannot be read)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could bind ``port`` on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST, attempts: int = 200) -> int:
    """A port no server holds now, outside the ephemeral range, not handed out before by this process."""
    ceiling = ephemeral_floor()
    if ceiling - LOWEST < 1000:  # an unusual kernel setting: fall back to the kernel's own choice
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    for _ in range(attempts):
        port = random.randrange(LOWEST, ceiling)
        if port not in _handed_out and is_free(port, host):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {ceiling} after {attempts} tries")

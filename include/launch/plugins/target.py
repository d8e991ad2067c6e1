"""How the pipeline reaches the launched service: from the plan's ``target_api`` connection.

extra: ``replicas`` (list of base URLs), ``env_file`` (the config file the env-file applier
writes), ``restart_command`` (argv template with ``{index}``), ``timeout`` (seconds, default 5).
password: the admin token (never logged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from include.launch.core.errors import ConfigurationError


@dataclass(frozen=True)
class Target:
    replicas: list[str]
    admin_token: str = field(repr=False, default="")
    env_file: str = ""
    restart_command: list[str] = field(default_factory=list)
    timeout: float = 5.0

    @classmethod
    def from_connection(cls, conn_id: str) -> Target:
        from include.launch.core.connections import get_connection

        conn = get_connection(conn_id)
        extra = conn.extra_dejson or {}
        replicas = extra.get("replicas") or ([conn.host] if conn.host else [])
        if not replicas:
            raise ConfigurationError(f"connection {conn_id!r}: extra.replicas must list the replica URLs")
        command = extra.get("restart_command") or []
        if isinstance(command, str):
            command = command.split()
        return cls(
            replicas=[str(url).rstrip("/") for url in replicas],
            admin_token=conn.password or "",
            env_file=str(extra.get("env_file") or ""),
            restart_command=[str(part) for part in command],
            timeout=float(extra.get("timeout", 5)),
        )

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

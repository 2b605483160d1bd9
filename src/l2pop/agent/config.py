"""The agent's configuration: one immutable value built by the CLI (or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from l2pop.core.model import normalize_ip
from l2pop.dataplane.base import Mode
from l2pop.errors import ValidationError
from l2pop.tlsclient import ClientTls

__all__ = ["AgentConfig", "BackoffPolicy", "parse_server_urls"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Jittered exponential backoff: ``initial * factor**n``, capped, each wait drawn
    from [``1 - jitter``, 1] of that value so that many agents do not retry in step."""

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 5.0
    jitter: float = 0.5


@dataclass(frozen=True, slots=True)
class AgentConfig:
    host: str
    tunnel_ip: str
    servers: tuple[str, ...]
    token: str
    mode: Mode = Mode.PROXY
    # Where the token came from: read again after a 401 (the admin rotated it).
    token_file: Path | None = None
    interface: str | None = None
    metrics_port: int | None = None
    metrics_addr: str = "0.0.0.0"
    # Drift repair period: re-read the kernel and repair it toward the held state.
    resync_interval: float = 30.0
    underlay_allowlist: bool = False
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    # A watch stream silent for this long (no line, no bookmark) is taken as broken;
    # the server sends a bookmark at least every 5 s.
    watch_idle_timeout: float = 20.0
    request_timeout: float = 5.0
    # How long one blocking wait for tap events lasts: bounds how long stopping takes.
    tap_poll: float = 0.5
    # --ca-file/--cert/--key for https server URLs.
    tls: ClientTls | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValidationError("host", self.host, "must not be empty")
        object.__setattr__(self, "tunnel_ip", normalize_ip(self.tunnel_ip, "tunnel_ip"))
        if not self.servers:
            raise ValidationError("server", self.servers, "at least one server URL")
        if not self.token:
            raise ValidationError("token", "", "the token file is empty")
        if self.resync_interval <= 0:
            raise ValidationError("resync_interval", self.resync_interval, "must be > 0")
        object.__setattr__(self, "mode", Mode(self.mode))


def parse_server_urls(text: str) -> tuple[str, ...]:
    """``URL[,URL...]`` -> URLs without trailing slashes, each http(s)."""
    urls = tuple(u.strip().rstrip("/") for u in text.split(",") if u.strip())
    if not urls:
        raise ValidationError("server", text, "at least one server URL")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValidationError("server", url, "must start with http:// or https://")
    return urls

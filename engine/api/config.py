"""The ``[api]`` config section: whether the desk serves the local API, and where."""

from __future__ import annotations

from pydantic import Field, field_validator
from tapedesk.engine.config_section import Section

#: The port when the config names none (0 asks the OS for a free one; the desk says which).
DEFAULT_PORT = 8765


class ApiConfig(Section):
    """Off unless enabled. Loopback by default: anything else is a choice the config states
    (every request still needs the bearer token, which travels in clear over plain HTTP)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not v or len(v) > 253 or any(ch.isspace() for ch in v):
            raise ValueError("must be a host name or address, e.g. 127.0.0.1")
        return v

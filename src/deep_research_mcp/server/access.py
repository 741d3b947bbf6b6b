"""Who may reach the HTTP endpoints: whether bearer auth is configured, and whether a host is loopback.

Shared by the HTTP entry point (serve.py: where it may listen, which Host headers it accepts) and the monitor's
routes (monitor_web.py: who may read its data), which the entry point builds; here, below both, neither imports
the other.
"""

from __future__ import annotations

import ipaddress

from ..settings import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_configured(settings: Settings) -> bool:
    return settings.auth_token is not None or settings.auth_jwt_secret is not None

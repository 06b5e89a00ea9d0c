"""Names made from untrusted values (robot, cell and camera ids): safe as file names."""

from __future__ import annotations

import re


def safe_name(*parts: str) -> str:
    """Letters, digits, dot, dash and underscore only; never hidden, never a path."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))[:200].lstrip(".") or "unnamed"

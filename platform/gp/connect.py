"""Where a cluster is and the Ray token to reach it: shared by the local driver
(:mod:`gp.orchestrate`) and remote submission (:mod:`gp.remote`)."""
from __future__ import annotations

import os
import pathlib
import sys

from gp.errors import GpError


def jobs_address(address: str | None, env: tuple[str, ...] = ("RAY_ADDRESS",)) -> str | None:
    """``address`` (else the first set of ``env``) if it is a Jobs API URL, else None."""
    address = address or next((os.environ[e] for e in env if os.environ.get(e)), None)
    return address.rstrip("/") if address and address.startswith(("http://", "https://")) else None


def ray_token() -> tuple[str, str] | None:
    """(token, where it came from), from where Ray itself looks, or None."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return os.environ["RAY_AUTH_TOKEN"].strip(), "RAY_AUTH_TOKEN"
    path = pathlib.Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or pathlib.Path.home() / ".ray" / "auth_token")
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip(), str(path)
    return None


def require_token(address: str) -> str:
    """Check that a Ray token is at hand before connecting; return where it came from."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return "none (RAY_AUTH_MODE=disabled)"
    found = ray_token()
    if found is None:
        raise GpError(f"no Ray token for {address}: set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to a copy "
                      "of the head node's token file (cluster/start-head.sh prints where it is)")
    os.environ["RAY_AUTH_MODE"] = "token"  # Ray clients send the token only in token mode
    if found[1] != "RAY_AUTH_TOKEN" and os.stat(found[1]).st_mode & 0o077:
        print(f"gp: warning: the token file {found[1]} is readable by others; chmod 600 it", file=sys.stderr)
    return found[1]

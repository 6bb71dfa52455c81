"""``gp plugins`` without importing torch: the listing is cached under $GP_HOME and
reused while the installed plugins (entry points, versions, source files) are unchanged."""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import json
import os
import pathlib

from gp.plugins import ENV_ALLOW, GROUP


def fingerprint() -> str:
    """Changes whenever an entry point, a distribution version or a plugin source file does."""
    h = hashlib.sha256(os.environ.get(ENV_ALLOW, "<all>").encode())
    for ep in sorted(md.entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        dist = getattr(ep, "dist", None)
        h.update(f"{ep.name}={ep.value}@{dist.version if dist else ''};".encode())
        h.update(_sources_mtime(ep.module).encode())
    return h.hexdigest()


def _sources_mtime(module: str) -> str:
    """Newest mtime of the module's folder (its package's sibling modules included)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return "missing"
    if spec is None or not spec.origin or not os.path.exists(spec.origin):
        return "missing"
    folder = pathlib.Path(spec.origin).parent
    files = folder.glob("*.py") if "." in module else [pathlib.Path(spec.origin)]
    return str(max((f.stat().st_mtime_ns for f in files), default=0))


def cached_rows(compute) -> tuple[list[list], list[str]]:
    """(plugin rows, dataset names) from the cache, or from ``compute()`` (then cached)."""
    from gp.tracking import home

    path, key = home() / "plugins-cache.json", fingerprint()
    try:
        cached = json.loads(path.read_text())
        if cached["key"] == key:
            return cached["rows"], cached["datasets"]
    except (OSError, ValueError, KeyError):
        pass
    rows, datasets = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "rows": rows, "datasets": datasets}))
    return rows, datasets

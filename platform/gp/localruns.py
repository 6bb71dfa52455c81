"""Recent runs read straight from a local SQLite MLflow store, for a fast ``gp runs``.

Opening the store through MLflow costs seconds (importing MLflow, then SQLAlchemy's engine
and the schema check); ``gp runs`` only reads a few columns, so for a ``sqlite:///`` store it
queries MLflow's tables read-only with the standard library. Anything else (a tracking
server, a store this cannot read) raises :class:`Unreadable` and the caller uses MLflow.
Both paths return the same records: ``{"id", "status", "tags", "params", "metrics"}``.
"""
from __future__ import annotations

import math
import pathlib
import sqlite3

PREFIX = "sqlite:///"
RUNS = ("SELECT run_uuid, status FROM runs WHERE experiment_id = ? AND lifecycle_stage = 'active' "
        "ORDER BY start_time IS NULL, start_time DESC, run_uuid LIMIT ?")  # MLflow's order for start_time DESC


class Unreadable(Exception):
    """Not a local SQLite store, or one whose tables this module cannot read."""


def recent(uri: str, experiment: str, limit: int, tags=(), params=(), metric_suffix: str = "") -> list[dict] | None:
    """The newest ``limit`` active runs of ``experiment`` (None: no such experiment), with
    the given tag and param keys and the latest value of metrics ending in ``metric_suffix``."""
    path = _path(uri)
    if not path.exists():
        return None
    try:
        with _connect(path) as db:
            return _read(db, experiment, limit, tags, params, metric_suffix)
    except sqlite3.Error as exc:
        raise Unreadable(str(exc)) from None


def _path(uri: str) -> pathlib.Path:
    if not uri.startswith(PREFIX) or "?" in uri or uri == PREFIX + ":memory:":
        raise Unreadable(f"not a local SQLite store: {uri}")
    return pathlib.Path(uri[len(PREFIX):]).resolve()


def _connect(path: pathlib.Path) -> sqlite3.Connection:
    """Read-only: a listing never creates, migrates or locks the store for writing."""
    return sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=5)


def _read(db, experiment: str, limit: int, tags, params, suffix: str) -> list[dict] | None:
    found = db.execute("SELECT experiment_id FROM experiments WHERE name = ?", (experiment,)).fetchone()
    if found is None:
        return None
    runs = {rid: {"id": rid, "status": status, "tags": {}, "params": {}, "metrics": {}}
            for rid, status in db.execute(RUNS, (found[0], limit))}
    _fill(db, runs, "tags", "SELECT run_uuid, key, value FROM tags", tags)
    _fill(db, runs, "params", "SELECT run_uuid, key, value FROM params", params)
    for rid, key, value, is_nan in _where(db, "SELECT run_uuid, key, value, is_nan FROM latest_metrics", runs):
        if key.endswith(suffix):
            runs[rid]["metrics"][key] = math.nan if is_nan else value
    return list(runs.values())


def _fill(db, runs: dict, field: str, query: str, keys) -> None:
    wanted = set(keys)
    for rid, key, value in _where(db, query, runs):
        if key in wanted:
            runs[rid][field][key] = value


def _where(db, query: str, runs: dict):
    """Rows of ``query`` for the runs in ``runs`` only."""
    marks = ",".join("?" * len(runs))
    return db.execute(f"{query} WHERE run_uuid IN ({marks})", list(runs)) if runs else []

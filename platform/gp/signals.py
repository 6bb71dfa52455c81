"""SIGTERM handled as Ctrl-C: what a scheduler, ``timeout`` or ``kill`` sends stops gp cleanly.

:func:`raise_on_sigterm` makes SIGTERM raise :class:`Terminated`, a ``KeyboardInterrupt``, so
it takes the path Ctrl-C takes (the run ends KILLED, the processes gp started stop) and gp
exits 143 instead of 130. ``ray.init`` sets its own handler (``sys.exit``, and a native one
that prints a stack dump): :func:`after_ray_init` puts gp's back.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl-C's KeyboardInterrupt would be."""


class _State:
    terminated = False  # a SIGTERM arrived (set once; later ones are ignored while gp stops)


def raise_on_sigterm() -> None:
    """From now on SIGTERM raises :class:`Terminated` (Python lets only the main thread set handlers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
    if _State.terminated:  # already stopping: let the clean-up finish (SIGKILL still works)
        return
    _State.terminated = True
    raise Terminated


def exit_status() -> int:
    """The exit status of an interrupted gp: 143 (128 + SIGTERM) after SIGTERM, else 130 (Ctrl-C)."""
    return 128 + signal.SIGTERM if _State.terminated else 130


@contextlib.contextmanager
def after_ray_init():
    """Around ``ray.init``: its handler's ``SystemExit(SIGTERM)`` becomes :class:`Terminated`,
    and gp's handler replaces Ray's afterwards."""
    try:
        yield
    except SystemExit as exc:
        if exc.code != signal.SIGTERM:
            raise
        _State.terminated = True
        raise Terminated from None
    finally:
        raise_on_sigterm()

"""Which lines of a job's log ``gp logs`` and ``gp submit --follow`` show.

By default: gp's own lines (``gp: ...``), errors (``error: ...`` and the last line of a
Python traceback, ``SomeError: ...``) and the progress bar; hidden are Ray's and MLflow's
own lines (object-store summaries after a node loss, warnings about DNS or retries,
MLflow's "View run" links), counted in a last line. ``--all`` shows every line.
"""
from __future__ import annotations

import re

GP_LINE = re.compile(r"^(gp|error): ")
ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)(?::|$)")
PROGRESS = re.compile(r"\d+%\|.*\|\s*\d+/\d+")  # tqdm: "epoch 1/2:  50%|#####     | 11/22 [...]"


def shown(line: str) -> bool:
    """Whether ``line`` (one line of a log, without its newline) is shown by default; tqdm's
    redraws within a line are separated by carriage returns, each part is looked at."""
    parts = [p.strip() for p in line.split("\r") if p.strip()]
    return any(GP_LINE.match(p) or ERROR_LINE.match(p) or PROGRESS.search(p) for p in parts)


class Filter:
    """Feed it a log as it arrives, in chunks that may split lines; it returns what to print."""

    def __init__(self, everything: bool = False):
        self.everything, self.hidden, self._partial = everything, 0, ""

    def feed(self, chunk: str) -> str:
        if self.everything:
            return chunk
        *lines, self._partial = (self._partial + chunk).split("\n")
        return "".join(self._keep(line) for line in lines)

    def close(self) -> str:
        """The rest: a last line without a newline."""
        rest = self._keep(self._partial) if self._partial and not self.everything else self._partial
        self._partial = ""
        return rest

    def note(self) -> str:
        """A line that says how many lines were hidden, or ''."""
        return f"gp: {self.hidden} lines of Ray and MLflow hidden; --all shows every line" if self.hidden else ""

    def _keep(self, line: str) -> str:
        if shown(line):
            return line + "\n"
        self.hidden += bool(line.strip())
        return ""


def visible(text: str, everything: bool = False) -> tuple[str, str]:
    """(the lines of a whole log that are shown, the note on what was hidden)."""
    f = Filter(everything)
    return f.feed(text) + f.close(), f.note()

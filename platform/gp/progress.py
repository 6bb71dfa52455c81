"""Progress from rank 0 to the driver: a tiny Ray actor the worker pushes to and the
driver drains, rendered as a tqdm bar with epoch, step and losses."""
from __future__ import annotations

import time


class Sink:
    """Collects progress records (a Ray actor when used with Ray, or in-process)."""

    def __init__(self):
        self.records: list[dict] = []
        self._began, self._stop = False, False

    def push(self, record: dict) -> None:
        self.records.append(record)

    def began(self) -> bool:
        """Whether a worker of this job began before (so this one is a restart); marks it."""
        was, self._began = self._began, True
        return was

    def stop(self) -> None:
        """The driver asks the workers to stop at their next read-back, keeping a checkpoint."""
        self._stop = True

    def stopping(self) -> bool:
        return self._stop

    def drain(self) -> list[dict]:
        out, self.records = self.records, []
        return out


class Reporter:
    """Rank 0's side: pushes at most every ``interval`` seconds (events always)."""

    def __init__(self, sink, interval: float = 0.5):
        self.sink, self.interval, self.last = sink, interval, 0.0

    def __call__(self, record: dict, force: bool = False) -> None:
        if self.sink is None:
            return
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        push = getattr(self.sink.push, "remote", self.sink.push)
        push(record)


class Bar:
    """The driver's side: a tqdm bar over all steps of the job, shown from the first step on
    (before it, the total is not known)."""

    def __init__(self, disable: bool = False):
        self.disable, self.bar = disable, None
        self.events: list[dict] = []

    def update(self, records: list[dict]) -> None:
        for r in records:
            if r.get("event"):
                self.events.append(r)
                continue
            bar = self._bar(r["total_steps"])
            bar.total, bar.n = r["total_steps"], r["step"]
            losses = " ".join(f"{k}={v:.4g}" for k, v in r["losses"].items())
            bar.set_description(f"epoch {r['epoch']}/{r['epochs']}", refresh=False)
            bar.set_postfix_str(losses, refresh=False)
            bar.refresh()

    def _bar(self, total: int):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", disable=self.disable, dynamic_ncols=True, leave=True)
        return self.bar

    def write(self, line: str) -> None:
        """A line above the bar."""
        from tqdm import tqdm

        tqdm.write(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

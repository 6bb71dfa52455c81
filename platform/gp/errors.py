"""User-facing errors: each prints as one line that says what to do."""
import difflib


class GpError(Exception):
    """An error caused by the user's input or environment, shown as one line."""


class DataError(GpError):
    """A dataset missing or unreadable where a worker runs (the message names the node):
    Ray Train does not retry it, since a restarted worker would meet it again."""


def unknown(kind: str, name: str, valid) -> GpError:
    """Build the error for an unknown name, suggesting the closest valid ones."""
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(valid) or 'none'}"
    return GpError(f"unknown {kind} '{name}': {hint}")


def first_line(obj, limit: int = 300) -> str:
    """The first non-blank line of an exception's (or any object's) text, at most ``limit``
    characters; the exception's type name when it has no text."""
    lines = [line.strip() for line in str(obj).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(obj).__name__

"""One-line errors."""
import pytest


@pytest.mark.parametrize("obj,line", [
    (ValueError("\n  bad value  \nmore"), "bad value"),
    (ValueError(""), "ValueError"),
    ("", "str"),
    ("x" * 400, "x" * 300),
])
def test_first_line_never_fails_on_an_empty_message(obj, line):
    from gp.errors import first_line

    assert first_line(obj) == line

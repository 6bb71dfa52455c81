"""Dataset options: each dataset declares the ``data.*`` keys it takes as a typed config.

Every dataset takes the common keys of :class:`gp.config.DataConfig` (``name``, ``limit``,
``labelled``); its own keys (``toy2d``'s ``kind``, a file dataset's ``root``) come from the
options class it registers with. A key the chosen dataset does not take is a one-line error.
"""
from __future__ import annotations

import pydantic
from pydantic import Field


class DataOptions(pydantic.BaseModel):
    """Base of a dataset's own options (none by default); unknown keys are errors."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)


class RootOptions(DataOptions):
    """Options of a dataset read from files: the folder that holds them.

    This is also what a dataset registered without an options class takes.
    """

    root: str | None = Field(None, description="folder holding the dataset files, if not the default")

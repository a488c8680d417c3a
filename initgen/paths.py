"""What every path argument of the library accepts: a ``str`` or any ``os.PathLike``."""

from __future__ import annotations

import os
from typing import Union

PathLike = Union[str, os.PathLike]  # noqa: UP007  (a runtime alias: type hints resolve it)

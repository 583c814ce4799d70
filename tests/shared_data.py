"""Where the public screening-list files live: ``shared/data`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = (
    os.environ.get("CLEARANCE_SHARED_DATA", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    "/work/shared/data",
)
SHARED_DATA = next(
    (Path(c) for c in _CANDIDATES if c and (Path(c) / "ofac-sdn.csv").exists()),
    Path(_CANDIDATES[1]),
)

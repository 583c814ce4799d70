"""The public screening-list files shipped with the repository (see README.md beside this file)."""

from __future__ import annotations

from pathlib import Path

LIST_DATA = Path(__file__).resolve().parent
OFAC_SDN = LIST_DATA / "ofac-sdn.csv"
OFAC_ALT = LIST_DATA / "ofac-alt.csv"
CSL_SAMPLE = LIST_DATA / "csl-consolidated-sample.csv"

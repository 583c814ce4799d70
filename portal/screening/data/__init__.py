"""The public screening-list files shipped with the repository (see README.md beside this file)."""

from __future__ import annotations

from pathlib import Path

LIST_DATA = Path(__file__).resolve().parent
OFAC_SDN = LIST_DATA / "ofac-sdn.csv"
OFAC_ALT = LIST_DATA / "ofac-alt.csv"
CSL_SAMPLE = LIST_DATA / "csl-consolidated-sample.csv"
# Korean readings of Han characters (Unihan kHangul), built by scripts/build_hanja_table.py.
HANJA_HANGUL = LIST_DATA / "hanja-hangul.tsv"

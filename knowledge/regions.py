"""Which region a question is about, from the place names it mentions (pure, data from places.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from knowledge.sources import REGIONS, Region

PLACES_FILE = Path(__file__).resolve().parent / "data" / "places.yaml"


@cache
def place_names(path: Path = PLACES_FILE) -> dict[str, Region]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names: dict[str, Region] = {}
    for region in REGIONS:
        entry = data[region]
        for name in entry["region_words"] + entry["cities"] + entry["counties"]:
            names[name] = region
    return names


@cache
def elsewhere_names(path: Path = PLACES_FILE) -> tuple[str, ...]:
    """Provinces and cities outside Guangxi and Ningxia, longest first."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(sorted(data.get("elsewhere", []), key=len, reverse=True))


def detect_elsewhere(text: str) -> list[str]:
    """Places outside our two regions that the text names."""
    return [name for name in elsewhere_names() if name in text]


def detect_regions(text: str) -> list[Region]:
    """Regions named in the text, most mentions first (one-character names such as 桂 are too ambiguous to count)."""
    counts: dict[Region, int] = {}
    for name, region in place_names().items():
        if len(name) < 2:
            continue
        if name in text:
            counts[region] = counts.get(region, 0) + text.count(name)
    return sorted(counts, key=lambda r: -counts[r])


def detect_region(text: str) -> Region | None:
    """The single region a text points to, or None when it names none or both."""
    found = detect_regions(text)
    return found[0] if len(found) == 1 else None

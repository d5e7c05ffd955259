"""Entitlement benchmark: catalogue load time and full-catalogue check latency (in-process).

Run: .venv/bin/python scripts/bench_entitlements.py
"""

from __future__ import annotations

import statistics
import time

from knowledge.catalogue.entitlements import check_entitlements
from knowledge.catalogue.loader import load_catalogue
from knowledge.catalogue.profile import ResidentProfile
from knowledge.settings import get_settings
from knowledge.sources import load_sources

PROFILES = [
    {},
    {"hukou_region": "guangxi", "planning_pregnancy": True},
    {"hukou_region": "ningxia"},
    {
        "hukou_region": "ningxia",
        "residence_region": "ningxia",
        "age": 68,
        "lives_alone": True,
        "income_status": "dibao",
    },
    {
        "hukou_region": "guangxi",
        "residence_region": "guangxi",
        "pregnant": True,
        "children_ages": [3],
        "medical_insurance": "resident",
    },
    {
        "residence_region": "guangxi",
        "disability": True,
        "disability_level": 1,
        "employment_status": "unemployed",
    },
]


def main() -> None:
    t = time.perf_counter()
    sources = load_sources(get_settings().sources_dir)
    catalogue = load_catalogue(sources)
    load_ms = (time.perf_counter() - t) * 1000
    print(f"catalogue load + validation: {load_ms:.0f} ms ({len(catalogue.entries)} services)")

    profiles = [ResidentProfile(**p) for p in PROFILES]
    check_entitlements(catalogue, profiles[0])  # compile rule expressions once (cached)
    samples = []
    for _ in range(50):
        for p in profiles:
            t = time.perf_counter()
            check_entitlements(catalogue, p)
            samples.append((time.perf_counter() - t) * 1000)
    p95 = statistics.quantiles(samples, n=100)[94]
    print(
        f"full-catalogue check: p50 {statistics.median(samples):.2f} ms, p95 {p95:.2f} ms (n={len(samples)})"
    )


if __name__ == "__main__":
    main()

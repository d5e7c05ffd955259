"""OpenFisca-style YAML cases beside the rules, run by one parametrised loader."""

from pathlib import Path

import pytest
import yaml

from knowledge.catalogue.entitlements import check_entitlements
from knowledge.catalogue.profile import ResidentProfile

CASES_DIR = Path(__file__).resolve().parents[3] / "knowledge" / "catalogue" / "cases"


def _cases():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            yield pytest.param(case, id=f"{path.stem}: {case['name']}")


def test_there_are_enough_cases():
    assert sum(1 for _ in _cases()) >= 40


@pytest.mark.parametrize("case", list(_cases()))
def test_case(catalogue, case):
    report = check_entitlements(
        catalogue, ResidentProfile(**case["profile"]), service_ids=list(case["expect"])
    )
    got = {
        r.service_id: r
        for bucket in (report.eligible, report.needs_info, report.not_eligible)
        for r in bucket
    }
    for service_id, status in case["expect"].items():
        assert got[service_id].status == status, (service_id, got[service_id].reasons)
        expected_missing = case.get("missing", {}).get(service_id)
        if expected_missing is not None:
            assert got[service_id].missing_fields == expected_missing

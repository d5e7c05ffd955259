"""The catalogue's OpenFisca-style test cases (``cases/*.yaml``): load them and run them against a catalogue.

Pure: a case is a profile plus the expected status (and, optionally, the exact missing fields) of some
services. The editor runs every case against a candidate catalogue before publishing, so an admin sees
which cases an edit breaks, with expected vs actual.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from knowledge.catalogue.entitlements import Status, check_service
from knowledge.catalogue.loader import Catalogue
from knowledge.catalogue.profile import ResidentProfile
from knowledge.catalogue.rules import profile_facts

CASES_DIR = Path(__file__).resolve().parent / "cases"


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    file: str = ""  # which cases/*.yaml it came from, for the report
    profile: ResidentProfile
    expect: dict[str, Status] = Field(min_length=1)
    missing: dict[str, list[str]] = Field(default_factory=dict)


class ServiceCheck(BaseModel):
    """One expectation of a case: what was expected of one service and what the engine said."""

    service_id: str
    expected: Status
    actual: Status | None  # None: the service is not in the catalogue
    expected_missing: list[str] | None = None
    actual_missing: list[str] = Field(default_factory=list)
    passed: bool
    reasons: list[str] = Field(default_factory=list)


class CaseResult(BaseModel):
    name: str
    file: str
    passed: bool
    checks: list[ServiceCheck]


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            cases.append(Case.model_validate({**raw, "file": path.name}))
    return cases


def run_case(catalogue: Catalogue, case: Case) -> CaseResult:
    facts, memo = profile_facts(case.profile), {}
    checks: list[ServiceCheck] = []
    for service_id, expected in case.expect.items():
        want_missing = case.missing.get(service_id)
        entry = catalogue.entries.get(service_id)
        if entry is None:
            checks.append(
                ServiceCheck(
                    service_id=service_id,
                    expected=expected,
                    actual=None,
                    expected_missing=want_missing,
                    passed=False,
                    reasons=["目录中没有这项服务 (service not in the catalogue)"],
                )
            )
            continue
        result = check_service(entry, case.profile, facts, memo)
        passed = result.status == expected and (want_missing is None or result.missing_fields == want_missing)
        checks.append(
            ServiceCheck(
                service_id=service_id,
                expected=expected,
                actual=result.status,
                expected_missing=want_missing,
                actual_missing=result.missing_fields,
                passed=passed,
                reasons=result.reasons,
            )
        )
    return CaseResult(name=case.name, file=case.file, passed=all(c.passed for c in checks), checks=checks)


def run_cases(catalogue: Catalogue, cases: list[Case]) -> list[CaseResult]:
    return [run_case(catalogue, case) for case in cases]

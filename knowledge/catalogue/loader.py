"""Load and validate the service catalogue (YAML files under ``knowledge/catalogue/data``).

Validation is strict because wrong entitlement information hurts people: unique ids, every quote
found verbatim in its source plan, every condition compiling against the profile schema.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.catalogue.models import CatalogueEntry, ResolvedCitation, Service
from knowledge.catalogue.rules import RuleError, effective_conditions, validate_condition
from knowledge.chunking import Chunk, chunk_documents
from knowledge.errors import KnowledgeError, NotFound
from knowledge.sources import SourceDocument

CATALOGUE_DIR = Path(__file__).resolve().parent / "data"


class CatalogueError(KnowledgeError):
    """The catalogue data is invalid; ``problems`` lists every issue found, not just the first."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} catalogue problem(s):\n" + "\n".join(f"- {p}" for p in problems))
        self.problems = problems


@dataclass
class Catalogue:
    entries: dict[str, CatalogueEntry] = field(default_factory=dict)

    def get(self, service_id: str) -> CatalogueEntry:
        try:
            return self.entries[service_id]
        except KeyError:
            raise NotFound(f"no service with id {service_id!r}") from None

    def services(self) -> list[Service]:
        return [e.service for e in self.entries.values()]

    def counts(self) -> dict[str, Counter[str]]:
        per: dict[str, Counter[str]] = {}
        for s in self.services():
            per.setdefault(s.region, Counter())[s.category] += 1
        return per


def read_service_files(directory: Path) -> list[tuple[str, dict]]:
    """(file name, raw entry) for every entry of every YAML file, in file order."""
    raw: list[tuple[str, dict]] = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("services", []):
            raw.append((path.name, item))
    return raw


def _section_of(chunks: list[Chunk], source: str, start: int, end: int) -> str:
    for c in chunks:
        if c.source == source and c.start <= start and end <= c.end:
            return c.section
    for c in chunks:  # a quote spanning two chunks: cite where it starts
        if c.source == source and c.start <= start < c.end:
            return c.section
    return ""


def resolve_citations(
    service: Service, docs: dict[str, SourceDocument], chunks: list[Chunk]
) -> list[ResolvedCitation]:
    resolved = []
    for ref in service.citations:
        doc = docs[ref.source]
        start = doc.text.index(ref.quote)
        end = start + len(ref.quote)
        resolved.append(
            ResolvedCitation(
                source=ref.source,
                title=doc.meta.title,
                region=doc.meta.region,
                section=_section_of(chunks, ref.source, start, end),
                quote=ref.quote,
                start=start,
                end=end,
                valid_from=doc.meta.valid_from,
                valid_to=doc.meta.valid_to,
            )
        )
    return resolved


def build_catalogue(raw: list[tuple[str, dict]], sources: list[SourceDocument]) -> Catalogue:
    """Validate raw entries against the schema, the sources and the rule language; collect every problem."""
    docs = {d.file_name: d for d in sources}
    chunks = chunk_documents(sources)
    problems: list[str] = []
    catalogue = Catalogue()
    for file_name, item in raw:
        label = f"{file_name}: {item.get('id', '?') if isinstance(item, dict) else '?'}"
        try:
            service = Service.model_validate(item)
        except ValidationError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if service.id in catalogue.entries:
            problems.append(f"{label}: duplicate id")
            continue
        bad = False
        for ref in service.citations:
            doc = docs.get(ref.source)
            if doc is None:
                problems.append(f"{label}: unknown source {ref.source}")
                bad = True
            elif ref.quote not in doc.text:
                problems.append(f"{label}: quote not verbatim in {ref.source}: {ref.quote!r}")
                bad = True
            elif doc.text.count(ref.quote) > 1:
                problems.append(
                    f"{label}: quote occurs more than once in {ref.source}, lengthen it: {ref.quote!r}"
                )
                bad = True
            elif doc.meta.region != service.region:
                problems.append(
                    f"{label}: cites {ref.source} ({doc.meta.region}) for a {service.region} service"
                )
                bad = True
        for condition in service.eligibility:
            try:
                validate_condition(condition)
            except RuleError as exc:
                problems.append(f"{label}: {exc}")
                bad = True
        if bad:
            continue
        doc = docs[service.citations[0].source]
        service = service.model_copy(
            update={
                "valid_from": service.valid_from or doc.meta.valid_from,
                "valid_to": service.valid_to or doc.meta.valid_to,
            }
        )
        catalogue.entries[service.id] = CatalogueEntry(
            service=service,
            citations=resolve_citations(service, docs, chunks),
            conditions=effective_conditions(service),
        )
    if problems:
        raise CatalogueError(problems)
    return catalogue


def load_catalogue(sources: list[SourceDocument], directory: Path = CATALOGUE_DIR) -> Catalogue:
    try:
        raw = read_service_files(directory)
    except yaml.YAMLError as exc:
        raise CatalogueError([f"YAML syntax: {exc}"]) from exc
    return build_catalogue(raw, sources)

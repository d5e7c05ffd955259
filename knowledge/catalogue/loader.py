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


# libyaml's parser when present: the same safe constructor, ~10x faster (the API reloads on every publish).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_service_files(directory: Path) -> list[tuple[str, dict]]:
    """(file name, raw entry) for every entry of every YAML file, in file order."""
    raw: list[tuple[str, dict]] = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader) or {}  # noqa: S506 - safe loader
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


def _schema_problems(exc: ValidationError) -> list[str]:
    # One line per field, so an editor can show each problem next to what caused it.
    return [f"{'.'.join(str(x) for x in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()]


def service_problems(item: object, docs: dict[str, SourceDocument]) -> tuple[Service | None, list[str]]:
    """Schema, verbatim citations and rule compilation of one raw entry; the service only when it passes."""
    try:
        service = Service.model_validate(item)
    except ValidationError as exc:
        return None, _schema_problems(exc)
    problems: list[str] = []
    for ref in service.citations:
        doc = docs.get(ref.source)
        if doc is None:
            problems.append(f"unknown source {ref.source}")
        elif ref.quote not in doc.text:
            problems.append(f"quote not verbatim in {ref.source}: {ref.quote!r}")
        elif doc.text.count(ref.quote) > 1:
            problems.append(f"quote occurs more than once in {ref.source}, lengthen it: {ref.quote!r}")
        elif doc.meta.region != service.region:
            problems.append(f"cites {ref.source} ({doc.meta.region}) for a {service.region} service")
    for condition in service.eligibility:
        try:
            validate_condition(condition)
        except RuleError as exc:
            problems.append(str(exc))
    return (None if problems else service), problems


def make_entry(service: Service, docs: dict[str, SourceDocument], chunks: list[Chunk]) -> CatalogueEntry:
    """A validated service as served: validity defaulted from its first source, citations resolved."""
    doc = docs[service.citations[0].source]
    service = service.model_copy(
        update={
            "valid_from": service.valid_from or doc.meta.valid_from,
            "valid_to": service.valid_to or doc.meta.valid_to,
        }
    )
    return CatalogueEntry(
        service=service,
        citations=resolve_citations(service, docs, chunks),
        conditions=effective_conditions(service),
    )


def build_catalogue(
    raw: list[tuple[str, dict]], sources: list[SourceDocument], chunks: list[Chunk] | None = None
) -> Catalogue:
    """Validate raw entries against the schema, the sources and the rule language; collect every problem.

    ``chunks`` (of ``sources``) may be passed by callers that rebuild often, to skip re-chunking."""
    docs = {d.file_name: d for d in sources}
    chunks = chunk_documents(sources) if chunks is None else chunks
    problems: list[str] = []
    catalogue = Catalogue()
    for file_name, item in raw:
        label = f"{file_name}: {item.get('id', '?') if isinstance(item, dict) else '?'}"
        service, found = service_problems(item, docs)
        problems.extend(f"{label}: {p}" for p in found)
        if service is None:
            continue
        if service.id in catalogue.entries:
            problems.append(f"{label}: duplicate id")
            continue
        catalogue.entries[service.id] = make_entry(service, docs, chunks)
    if problems:
        raise CatalogueError(problems)
    return catalogue


def load_catalogue(
    sources: list[SourceDocument], directory: Path = CATALOGUE_DIR, chunks: list[Chunk] | None = None
) -> Catalogue:
    try:
        raw = read_service_files(directory)
    except yaml.YAMLError as exc:
        raise CatalogueError([f"YAML syntax: {exc}"]) from exc
    return build_catalogue(raw, sources, chunks)

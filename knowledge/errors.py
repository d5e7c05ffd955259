"""Typed errors of the knowledge layer. The API maps them to HTTP codes; nothing here knows about HTTP."""


class KnowledgeError(Exception):
    """Base class for errors raised by the knowledge layer."""


class InvalidQuery(KnowledgeError):
    """The query cannot be searched (empty, too long, unknown region, bad top_k)."""


class SourceError(KnowledgeError):
    """A source document or its metadata is missing, unreadable or invalid."""


class ModelUnavailable(KnowledgeError):
    """The embedding model is not prepared and cannot be obtained here."""


class IndexNotReady(KnowledgeError):
    """No index version has been built yet."""


class NotFound(KnowledgeError):
    """A requested object (service, document, version) does not exist."""


class CatalogueRejected(KnowledgeError):
    """A catalogue edit was not published: ``problems`` (schema, citations, rules) and the test cases it
    breaks (``broken_cases``: case results with expected vs actual). Nothing was changed."""

    def __init__(self, problems: list[str], broken_cases: list | None = None):
        self.problems = problems
        self.broken_cases = broken_cases or []
        names = [getattr(c, "name", str(c)) for c in self.broken_cases]
        parts = [*problems, *(f"breaks case: {n}" for n in names)]
        super().__init__("catalogue edit rejected:\n" + "\n".join(f"- {p}" for p in parts))


# --- document lifecycle (issue 6): uploads, the library, publishing -------------------------------
class DocumentTooLarge(KnowledgeError):
    """An uploaded file exceeds the upload limit."""


class ParseLimitExceeded(DocumentTooLarge):
    """An upload within the size limit unpacks or converts to more than a parse limit allows: a zip bomb (declared
    uncompressed size, compression ratio, entry count), too many PDF pages, too much text, XML nodes or nesting
    over the parser's limits, or a parse that needs too much memory."""


class ParseTimeout(ParseLimitExceeded):
    """Converting an upload took longer than the parse timeout."""


class UnsupportedFormat(KnowledgeError):
    """An uploaded file is not one of the formats we can convert (txt, md, docx, pdf, html)."""


class CorruptDocument(KnowledgeError):
    """An uploaded file claims a supported format but cannot be read as one."""


class EmptyDocument(KnowledgeError):
    """An uploaded file converts to no text at all."""


class InvalidMetadata(KnowledgeError):
    """Document metadata is not valid JSON or breaks the schema."""


class DuplicateDocument(KnowledgeError):
    """A published document already has this title or doc_id."""


class UnknownDocument(NotFound):
    """No published document has this doc_id."""


class LibraryConflict(KnowledgeError):
    """The change cannot be made in the library's current state (last document, draft already used, busy)."""

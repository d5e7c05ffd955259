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

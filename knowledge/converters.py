"""Uploaded files → plain plan text, with maintained parsers for each format, inside limits.

The output is what the parser (``knowledge/parsing.py``) reads: one line per paragraph or heading,
paragraphs separated by blank lines, table rows as tab-separated cells. Every converter fails with a
typed error rather than returning garbage or letting a parser's exception through: unsupported
(``UnsupportedFormat``), unreadable (``CorruptDocument``), empty (``EmptyDocument``), or over a limit
(``DocumentTooLarge``, ``ParseLimitExceeded``, ``ParseTimeout``).

Limits (``ParseLimits``, from the ``upload_*`` settings; docs/security.md lists them): the file is at most
``MAX_UPLOAD_BYTES``; a zip-based file (.docx) is checked entry by entry *before* anything is decompressed
(entry count, declared uncompressed total, per-entry compression ratio, entry names, encryption, method);
XML is parsed without entity expansion and inside libxml2's default resource limits; a PDF has at most so
many pages and its streams decompress to at most the unpacked cap; the converted text is at most
``max_text_bytes`` (UTF-8). The conversion runs in a short-lived child process with a wall-clock timeout and
an address-space budget, so a pathological file costs the API process neither memory nor a stuck worker.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING

from knowledge.errors import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    KnowledgeError,
    LibraryConflict,
    ParseLimitExceeded,
    ParseTimeout,
    UnsupportedFormat,
)

if TYPE_CHECKING:
    from knowledge.settings import Settings

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
FORMATS: tuple[str, ...] = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")
_MB = 1024 * 1024
CONCURRENT_CONVERSIONS = 2
_SLOTS = threading.BoundedSemaphore(CONCURRENT_CONVERSIONS)

_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
# A line break between two CJK characters is layout (wrapped source), not a space.
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])\s*\n\s*(?=[{_CJK}])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TERMINAL = "。！？!?；;…：:”」）)"
_HEADING = re.compile(r"^(第[一二三四五六七八九十百]+[章节]|专栏\s*\d+|前\s*言|目\s*录)")


@dataclasses.dataclass(frozen=True)
class ParseLimits:
    """What converting one upload may cost. Defaults match the settings' defaults (``upload_*``)."""

    max_text_bytes: int = 20 * _MB  # the converted text, UTF-8
    max_unpacked_bytes: int = 50 * _MB  # a zip's declared uncompressed total; also each PDF stream's output
    max_zip_entries: int = 1000
    max_zip_ratio: float = 100.0  # uncompressed : compressed, for entries of at least zip_ratio_min_bytes
    zip_ratio_min_bytes: int = 1 * _MB
    max_pdf_pages: int = 500
    timeout_seconds: float = 60.0  # 0: convert in this process, without the watchdog
    memory_mb: int = 1024  # address space the conversion may add (Linux); 0: no limit

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            max_text_bytes=settings.upload_max_text_bytes,
            max_unpacked_bytes=settings.upload_max_unpacked_bytes,
            max_zip_entries=settings.upload_max_zip_entries,
            max_zip_ratio=settings.upload_max_zip_ratio,
            zip_ratio_min_bytes=settings.upload_zip_ratio_min_bytes,
            max_pdf_pages=settings.upload_max_pdf_pages,
            timeout_seconds=settings.upload_parse_timeout_seconds,
            memory_mb=settings.upload_parse_memory_mb,
        )


def default_limits() -> ParseLimits:
    from knowledge.settings import get_settings

    return ParseLimits.from_settings(get_settings())


def extension(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def convert(filename: str, data: bytes, limits: ParseLimits | None = None) -> str:
    """Plain text of an uploaded file; the format is chosen by the file name's extension."""
    limits = limits or default_limits()
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocumentTooLarge(
            f"文件超过 {MAX_UPLOAD_BYTES // _MB} MB 上限 (file is {len(data)} bytes, limit {MAX_UPLOAD_BYTES})"
        )
    if extension(filename) not in _CONVERTERS:
        raise UnsupportedFormat(
            f"不支持的文件类型 {extension(filename) or '(无扩展名)'}，请上传 {'、'.join(FORMATS)} "
            f"(unsupported file type {filename!r})"
        )
    if not data.strip():
        raise EmptyDocument(f"文件是空的 (file {filename!r} is empty)")
    # At most CONCURRENT_CONVERSIONS at a time, so their memory budgets add up to a known bound.
    if not _SLOTS.acquire(timeout=max(limits.timeout_seconds, 1.0)):
        raise LibraryConflict(
            "其他文件正在转换，请稍后再试 (other uploads are being converted; try again in a moment)"
        )
    try:
        if limits.timeout_seconds > 0:
            return _convert_isolated(filename, data, limits)
        return _convert_here(filename, data, limits)
    finally:
        _SLOTS.release()


def _convert_here(filename: str, data: bytes, limits: ParseLimits) -> str:
    """Convert in this process: the format's converter, normalisation, the text cap. Typed errors only."""
    try:
        text = normalize(_CONVERTERS[extension(filename)](data, limits))
    except KnowledgeError:
        raise
    except MemoryError as exc:
        raise ParseLimitExceeded(
            f"解析文件所需内存超过上限 (conversion of {filename!r} ran out of memory)"
        ) from exc
    except RecursionError as exc:
        raise ParseLimitExceeded(
            f"文件结构嵌套过深，超过解析上限 ({filename!r} is nested too deeply)"
        ) from exc
    except Exception as exc:  # a parser's own error on a malformed file: never a 500
        raise CorruptDocument(
            f"无法读取文件 (cannot parse {filename!r}: {type(exc).__name__}: {exc})"
        ) from exc
    check_text_size(text, limits)
    if not text.strip():
        raise EmptyDocument(f"文件中没有可用的文字 (no text found in {filename!r})")
    return text


def check_text_size(text: str, limits: ParseLimits) -> None:
    size = len(text.encode("utf-8"))
    if size > limits.max_text_bytes:
        raise ParseLimitExceeded(_text_too_large(limits, size))


def _text_too_large(limits: ParseLimits, size: int | None = None) -> str:
    got = f"{size} bytes" if size is not None else "over the limit"
    return (
        f"转换后的文字超过 {_mb(limits.max_text_bytes)} 上限 "
        f"(converted text is {got}, limit {limits.max_text_bytes} bytes)"
    )


def _mb(size: float) -> str:
    return f"{size / _MB:g} MB"


class _TextBudget:
    """Stops a converter as soon as its output passes the text cap, instead of after building all of it."""

    def __init__(self, limits: ParseLimits):
        self.limits = limits
        self.left = limits.max_text_bytes

    def take(self, text: str) -> str:
        self.left -= len(text.encode("utf-8"))
        if self.left < 0:
            raise ParseLimitExceeded(_text_too_large(self.limits))
        return text


# --- the watchdog: a child process with a timeout and a memory budget ------------------------------
# A fresh interpreter per conversion (~0.3 s, the parser's imports included): it shares nothing with the API
# process (no threads, no models, no request state) and is killed outright on timeout.
_CHILD_CODE = "from knowledge.converters import _child_main; _child_main()"
_CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL, -signal.SIGFPE, -signal.SIGABRT}
_ERRORS: dict[str, type[KnowledgeError]] = {
    cls.__name__: cls
    for cls in (
        CorruptDocument,
        DocumentTooLarge,
        EmptyDocument,
        ParseLimitExceeded,
        ParseTimeout,
        UnsupportedFormat,
    )
}


def _convert_isolated(filename: str, data: bytes, limits: ParseLimits) -> str:
    header = {"filename": filename, "limits": dataclasses.asdict(limits)}
    root = str(Path(__file__).resolve().parents[1])  # so the child imports this very package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
    except OSError as exc:  # no interpreter to start: the limits below still hold, only the watchdog is lost
        log.warning("cannot start a conversion process (%s); converting in this process", exc)
        return _convert_here(filename, data, limits)
    try:
        out, err = child.communicate(
            json.dumps(header).encode() + b"\n" + data, timeout=limits.timeout_seconds
        )
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise ParseTimeout(
            f"解析文件超时（超过 {limits.timeout_seconds:g} 秒），文件可能过于复杂或已损坏 "
            f"(conversion of {filename!r} took longer than {limits.timeout_seconds:g} s)"
        ) from None
    except BaseException:
        child.kill()
        child.communicate()
        raise
    first, _, text = out.partition(b"\n")
    try:
        result = json.loads(first)
        if not isinstance(result, dict):
            raise ValueError(first[:100])
    except ValueError:  # the child died without answering: killed (memory) or crashed
        log.warning(
            "conversion of %r ended with %s: %s",
            filename,
            child.returncode,
            err[-2000:].decode(errors="replace"),
        )
        if child.returncode in _CRASH_SIGNALS:
            raise CorruptDocument(
                f"无法读取文件，解析器异常终止 (the parser crashed on {filename!r}: exit {child.returncode})"
            ) from None
        raise ParseLimitExceeded(
            f"解析文件所需资源超过上限，解析已中止 (conversion of {filename!r} stopped: exit {child.returncode})"
        ) from None
    if result.get("ok"):
        return text.decode("utf-8")
    raise _ERRORS.get(result.get("error"), CorruptDocument)(result.get("message") or "无法读取文件")


def _child_main() -> None:
    """The conversion child: a JSON header line and the file's bytes on stdin; a JSON header line on stdout,
    then the text. Every failure is answered as a typed error; pypdf's warnings about damaged files stay quiet."""
    logging.disable(logging.WARNING)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    header = json.loads(stdin.readline())
    limits = ParseLimits(**header["limits"])
    _limit_memory(limits.memory_mb)
    text = b""
    try:
        text = _convert_here(header["filename"], stdin.read(), limits).encode("utf-8")
        answer: dict[str, object] = {"ok": True}
    except KnowledgeError as exc:
        answer = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    except MemoryError:
        text = b""
        answer = {
            "ok": False,
            "error": "ParseLimitExceeded",
            "message": f"解析文件所需内存超过 {limits.memory_mb} MB 上限 (conversion ran out of memory)",
        }
    stdout.write(json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n" + text)
    stdout.flush()


def _limit_memory(megabytes: int) -> None:
    """Cap this (child) process's address space at its current size plus ``megabytes`` (Linux)."""
    if megabytes <= 0:
        return
    try:
        import resource

        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = current + megabytes * _MB
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass


def normalize(text: str) -> str:
    """Unix newlines, no control characters or trailing spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").replace("\ufeff", "")
    text = _CONTROL.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text + "\n" if text else ""


def _paragraphs(parts: Iterable[str]) -> str:
    return "\n\n".join(p for p in (part.strip() for part in parts) if p)


# --- txt ------------------------------------------------------------------------------------------
def decode_text(data: bytes, limits: ParseLimits | None = None) -> str:
    """UTF-8 (with or without BOM) first, then whatever charset detection is confident about (GB18030, Big5…)."""
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CorruptDocument("文件不是文本文件 (binary data in a .txt file)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise CorruptDocument("无法识别文件的字符编码 (cannot detect the text encoding)")
    return str(best)


# --- md -------------------------------------------------------------------------------------------
def _inline_text(token) -> str:
    out: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(child.content)
    # A line wrapped in the Markdown source is one paragraph: join it back (no space between CJK).
    return re.sub(r"\s*\n\s*", " ", _CJK_BREAK.sub("", "".join(out))).strip()


def markdown_to_text(data: bytes, limits: ParseLimits | None = None) -> str:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(decode_text(data))
    parts: list[str] = []
    row: list[str] | None = None
    rows: list[str] = []
    ordered: list[int | None] = []  # per open list: next item number, or None for bullets
    prefix = ""
    for token in tokens:
        if token.type == "ordered_list_open":
            ordered.append(int(token.attrs.get("start", 1) or 1))
        elif token.type == "bullet_list_open":
            ordered.append(None)
        elif token.type in ("ordered_list_close", "bullet_list_close"):
            ordered.pop()
        elif token.type == "list_item_open" and ordered and ordered[-1] is not None:
            prefix = f"{ordered[-1]}. "
            ordered[-1] += 1
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            rows.append("\t".join(row))
            row = None
        elif token.type == "table_close":
            parts.append("\n".join(rows))  # rows stay together, one per line
            rows = []
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(text)
            elif text:
                parts.append(prefix + text)
                prefix = ""
        elif token.type in ("fence", "code_block"):
            parts.append(token.content)
    return _paragraphs(parts)


# --- zip-based formats (docx) ---------------------------------------------------------------------
_EOCD = b"PK\x05\x06"


def _declared_entry_count(data: bytes) -> int | None:
    """The entry count in the zip's end record, read before ``zipfile`` builds one object per entry."""
    tail = data[-(22 + 0xFFFF) :]
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def check_zip(data: bytes, limits: ParseLimits, kind: str = "Word") -> zipfile.ZipFile:
    """Open a zip-based upload after checking every entry's *declared* size, name and method, before
    decompressing any. Read its entries with ``read_zip_parts`` only (see there why)."""
    declared = _declared_entry_count(data)
    if declared is not None and declared > limits.max_zip_entries:
        raise ParseLimitExceeded(_too_many_entries(kind, declared if declared != 0xFFFF else None, limits))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise CorruptDocument(f"无法读取 {kind} 文件 (not a valid zip archive: {exc})") from exc
    if len(entries) > limits.max_zip_entries:
        raise ParseLimitExceeded(_too_many_entries(kind, len(entries), limits))
    total = 0
    seen: set[str] = set()
    for entry in entries:
        _check_entry_name(entry.filename, seen, kind)
        if entry.flag_bits & 0x1:
            raise CorruptDocument(f"{kind} 文件已加密，无法读取 (encrypted entry {entry.filename!r})")
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CorruptDocument(
                f"{kind} 文件使用了不支持的压缩方式 (entry {entry.filename!r}: compression {entry.compress_type})"
            )
        total += entry.file_size
        if total > limits.max_unpacked_bytes:
            raise ParseLimitExceeded(
                f"{kind} 文件解压后超过 {_mb(limits.max_unpacked_bytes)} 上限，疑似压缩炸弹 "
                f"(declared uncompressed size over {limits.max_unpacked_bytes} bytes)"
            )
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= limits.zip_ratio_min_bytes and ratio > limits.max_zip_ratio:
            raise ParseLimitExceeded(
                f"{kind} 文件中的 {entry.filename} 压缩比 {ratio:.0f}:1 超过 {limits.max_zip_ratio:g}:1 上限，"
                f"疑似压缩炸弹 (compression ratio of {entry.filename!r} is over the limit)"
            )
    return archive


_READ_CHUNK = 64 * 1024


def read_zip_parts(archive: zipfile.ZipFile) -> dict[str, bytes]:
    """Every entry's bytes, read in small pieces: at most its declared size (checked by ``check_zip``).

    ``ZipFile.read`` is not safe for this: it inflates an entry's whole compressed stream in one call and only
    then cuts it to the declared size, so an entry declaring 4 KB over a 200 KB stream of blanks takes 200 MB
    first. A small read inflates at most that much, and the reader stops at the declared size; what is read
    is then checked against the entry's CRC-32 (a mismatch is ``BadZipFile`` → corrupt).
    """
    parts: dict[str, bytes] = {}
    for entry in archive.infolist():
        if entry.is_dir():
            continue
        pieces: list[bytes] = []
        with archive.open(entry) as stream:
            while piece := stream.read(_READ_CHUNK):
                pieces.append(piece)
        parts[entry.filename] = b"".join(pieces)
    return parts


def stored_zip(parts: dict[str, bytes]) -> bytes:
    """The parts again as an uncompressed zip: a package reader (python-docx) then reads exactly these bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for name, content in parts.items():
            out.writestr(name, content)
    return buffer.getvalue()


def _too_many_entries(kind: str, count: int | None, limits: ParseLimits) -> str:
    shown = f"{count} 个" if count is not None else "过多"
    return (
        f"{kind} 文件包含{shown}部件，超过 {limits.max_zip_entries} 个上限 "
        f"(zip has {count if count is not None else 'too many'} entries, limit {limits.max_zip_entries})"
    )


def _check_entry_name(name: str, seen: set[str], kind: str) -> None:
    """No absolute paths, parent references, backslashes, drive letters or duplicates: one name, one part."""
    path = PurePosixPath(name)
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or ".." in path.parts
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise CorruptDocument(f"{kind} 文件包含非法路径的部件 (unsafe entry name {name!r})")
    key = name.lower()
    if key in seen:
        raise CorruptDocument(f"{kind} 文件包含重复的部件 (duplicate entry {name!r})")
    seen.add(key)


# --- docx -----------------------------------------------------------------------------------------
# libxml2's own resource limits (text node over 10 MB, nesting over 256, names too long) are kept: lxml is
# never given XML_PARSE_HUGE here. Their error codes: XML_ERR_NAME_TOO_LONG, XML_ERR_RESOURCE_LIMIT.
_XML_LIMIT_CODES = {110, 114}
_XML_LIMIT_WORDS = re.compile(r"XML_PARSE_HUGE|limit|amplification|excessive depth|too long", re.IGNORECASE)


def _xml_error(exc, kind: str = "Word") -> KnowledgeError:
    message = getattr(exc, "msg", None) or str(exc)
    if getattr(exc, "code", None) in _XML_LIMIT_CODES or _XML_LIMIT_WORDS.search(message):
        return ParseLimitExceeded(
            f"{kind} 文件的 XML 超过解析上限（超长文本节点、过深嵌套或实体膨胀） "
            f"(XML resource limit: {message.strip()})"
        )
    return CorruptDocument(f"无法读取 {kind} 文件，XML 格式错误 (malformed XML: {message.strip()})")


def docx_to_text(data: bytes, limits: ParseLimits | None = None) -> str:
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml import etree

    limits = limits or ParseLimits()
    budget = _TextBudget(limits)
    try:
        with check_zip(data, limits) as archive:
            package = stored_zip(read_zip_parts(archive))  # python-docx never inflates the upload itself
        document = Document(io.BytesIO(package))
        parts: list[str] = []
        # Body order matters: paragraphs and tables interleave, so walk the XML children, not .paragraphs.
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1] if isinstance(child.tag, str) else ""
            if tag == "p":
                parts.append(budget.take(Paragraph(child, document).text))
            elif tag == "tbl":
                parts.append(budget.take("\n".join(_docx_rows(Table(child, document)))))
    except KnowledgeError:
        raise
    except etree.XMLSyntaxError as exc:
        raise _xml_error(exc) from exc
    except (MemoryError, RecursionError) as exc:
        raise ParseLimitExceeded(
            f"Word 文件结构过于复杂，超过解析上限 (document too complex: {type(exc).__name__})"
        ) from exc
    except Exception as exc:  # zipfile.BadZipFile (a bad CRC), PackageNotFoundError, KeyError, ValueError…
        raise CorruptDocument(f"无法读取 Word 文件 (not a valid .docx: {type(exc).__name__}: {exc})") from exc
    return _paragraphs(parts)


def _docx_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(re.sub(r"\s+", " ", cell.text).strip())
        if any(cells):
            rows.append("\t".join(cells))
    return rows


# --- pdf ------------------------------------------------------------------------------------------
def _pypdf_limits(limits: ParseLimits):
    """pypdf's own decompression limits (75 MB per stream by default) lowered to the unpacked cap."""
    from contextlib import nullcontext

    try:
        from pypdf import Configuration, apply_configuration
    except ImportError:  # an older pypdf: its own defaults apply; the text cap and the watchdog still hold
        return nullcontext()
    names = {f.name for f in dataclasses.fields(Configuration)}
    wanted = [
        "maximum_declared_stream_length",
        "array_based_stream_maximum_output_length",
        "jbig2_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "zlib_maximum_output_length",
        "brotli_maximum_output_length",
        "image_maximum_buffer_size",
    ]
    return apply_configuration(**{n: limits.max_unpacked_bytes for n in wanted if n in names})


def _declared_pages(reader) -> int | None:
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]
        return int(count)
    except Exception:  # a broken page tree: len(reader.pages) decides (or fails) below
        return None


def pdf_to_text(data: bytes, limits: ParseLimits | None = None) -> str:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    limits = limits or ParseLimits()
    budget = _TextBudget(limits)
    too_many = (
        f"PDF 超过 {limits.max_pdf_pages} 页上限 (the PDF has {{}} pages, limit {limits.max_pdf_pages})"
    )
    try:
        with _pypdf_limits(limits):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise CorruptDocument("PDF 已加密，无法读取 (the PDF is encrypted)")
            declared = _declared_pages(reader)
            if declared is not None and declared > limits.max_pdf_pages:  # before walking the page tree
                raise ParseLimitExceeded(too_many.format(declared))
            count = len(reader.pages)
            if count > limits.max_pdf_pages:
                raise ParseLimitExceeded(too_many.format(count))
            pages = [budget.take(page.extract_text() or "") for page in reader.pages]
    except KnowledgeError:
        raise
    except LimitReachedError as exc:
        raise ParseLimitExceeded(
            f"PDF 内容解压后超过 {_mb(limits.max_unpacked_bytes)} 上限 (a PDF stream is over a limit: {exc})"
        ) from exc
    except (MemoryError, RecursionError) as exc:
        raise ParseLimitExceeded(
            f"PDF 结构过于复杂，超过解析上限 (PDF too complex: {type(exc).__name__})"
        ) from exc
    except Exception as exc:  # PyPdfError, and whatever else a malformed file makes pypdf raise
        raise CorruptDocument(f"无法读取 PDF 文件 (not a valid PDF: {type(exc).__name__}: {exc})") from exc
    return _paragraphs(pdf_paragraphs(page) for page in pages)


def pdf_paragraphs(page_text: str) -> str:
    """Re-join lines a PDF wrapped at the page width; a short line or one ending a sentence ends a paragraph."""
    lines = [line.strip() for line in page_text.replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    width = max(len(line) for line in lines)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if _HEADING.match(line) and current:
            paragraphs.append(current)
            current = ""
        current = _join_wrapped(current, line)
        wrapped = len(line) >= 0.8 * width and line[-1] not in _TERMINAL and not _HEADING.match(line)
        if not wrapped:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _join_wrapped(head: str, tail: str) -> str:
    if not head:
        return tail
    cjk = re.compile(rf"[{_CJK}]")
    return head + ("" if cjk.match(head[-1]) or cjk.match(tail[0]) else " ") + tail


# --- html -----------------------------------------------------------------------------------------
_BLOCK_TAGS = frozenset(
    (
        "p h1 h2 h3 h4 h5 h6 li div section article header footer blockquote pre table tr dt dd "
        "caption figcaption address main aside"
    ).split()
)
_DROP_TAGS = frozenset(("script", "style", "noscript", "template", "head", "nav", "svg", "iframe", "form"))


def html_to_text(data: bytes, limits: ParseLimits | None = None) -> str:
    """Block elements become paragraphs, table rows lines of tab-separated cells, <br> a line break.

    One pass over the parsed tree in document order, without changing it: bs4's insert/replace look a node
    up among its siblings, which made the old in-place version quadratic (a 1 MB page took a minute).
    """
    from bs4 import BeautifulSoup, CData, NavigableString, Tag
    from bs4.element import PreformattedString

    if b"\x00" in data:
        raise CorruptDocument("文件不是 HTML 文本 (binary data in an .html file)")
    soup = BeautifulSoup(data, "html.parser")
    out: list[str] = []
    in_pre = 0
    # (node, closing): an explicit stack rather than recursion, so deep nesting cannot exhaust the C stack.
    stack: list[tuple[object, bool]] = [(child, False) for child in reversed(soup.contents)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, Tag):
            name = node.name
            if closing:
                if name in ("td", "th"):
                    out.append("\t")
                elif name == "tr":  # table rows stay together, one per line
                    out.append("\n")
                elif name in _BLOCK_TAGS:
                    out.append("\n\n")
                if name == "pre":
                    in_pre -= 1
                continue
            if name in _DROP_TAGS:
                continue
            if name == "br":
                out.append("\n")
                continue
            if name in _BLOCK_TAGS and name != "tr":
                out.append("\n\n")
            if name == "pre":
                in_pre += 1
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
        elif isinstance(node, NavigableString):
            if isinstance(node, PreformattedString) and not isinstance(node, CData):
                continue  # comments, <!DOCTYPE>, processing instructions: not text
            # Source-code line breaks are not text: fold them (outside <pre>).
            out.append(str(node) if in_pre else re.sub(r"\s+", " ", _CJK_BREAK.sub("", str(node))))
    lines = []
    for line in "".join(out).split("\n"):
        line = line.strip(" \u00a0").rstrip("\t").strip(" ")
        lines.append(re.sub(r" *\t *", "\t", line))
    return "\n".join(lines)


_CONVERTERS: dict[str, Callable[[bytes, ParseLimits], str]] = {
    ".txt": decode_text,
    ".md": markdown_to_text,
    ".docx": docx_to_text,
    ".pdf": pdf_to_text,
    ".html": html_to_text,
    ".htm": html_to_text,
}

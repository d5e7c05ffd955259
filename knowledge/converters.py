"""Uploaded files → plain plan text, with maintained parsers for each format.

The output is what the parser (``knowledge/parsing.py``) reads: one line per paragraph or heading,
paragraphs separated by blank lines, table rows as tab-separated cells. Every converter fails with a
typed error (unsupported / corrupt / empty) rather than returning garbage.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import PurePath

from knowledge.errors import CorruptDocument, DocumentTooLarge, EmptyDocument, UnsupportedFormat

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
FORMATS: tuple[str, ...] = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")

_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
# A line break between two CJK characters is layout (wrapped source), not a space.
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])\s*\n\s*(?=[{_CJK}])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TERMINAL = "。！？!?；;…：:”」）)"
_HEADING = re.compile(r"^(第[一二三四五六七八九十百]+[章节]|专栏\s*\d+|前\s*言|目\s*录)")


def extension(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def convert(filename: str, data: bytes) -> str:
    """Plain text of an uploaded file; the format is chosen by the file name's extension."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocumentTooLarge(
            f"文件超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB 上限 (file is {len(data)} bytes, limit {MAX_UPLOAD_BYTES})"
        )
    converter = _CONVERTERS.get(extension(filename))
    if converter is None:
        raise UnsupportedFormat(
            f"不支持的文件类型 {extension(filename) or '(无扩展名)'}，请上传 {'、'.join(FORMATS)} "
            f"(unsupported file type {filename!r})"
        )
    if not data.strip():
        raise EmptyDocument(f"文件是空的 (file {filename!r} is empty)")
    text = normalize(converter(data))
    if not text.strip():
        raise EmptyDocument(f"文件中没有可用的文字 (no text found in {filename!r})")
    return text


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
def decode_text(data: bytes) -> str:
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


def markdown_to_text(data: bytes) -> str:
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


# --- docx -----------------------------------------------------------------------------------------
def docx_to_text(data: bytes) -> str:
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise CorruptDocument(f"无法读取 Word 文件 (not a valid .docx: {exc})") from exc
    parts: list[str] = []
    # Body order matters: paragraphs and tables interleave, so walk the XML children, not .paragraphs.
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(child, document).text)
        elif tag == "tbl":
            parts.append("\n".join(_docx_rows(Table(child, document))))
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
def pdf_to_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise CorruptDocument("PDF 已加密，无法读取 (the PDF is encrypted)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except CorruptDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise CorruptDocument(f"无法读取 PDF 文件 (not a valid PDF: {exc})") from exc
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
_BLOCK_TAGS = (
    "p h1 h2 h3 h4 h5 h6 li div section article header footer blockquote pre table tr dt dd "
    "caption figcaption address main aside"
).split()
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "nav", "svg", "iframe", "form")


def html_to_text(data: bytes) -> str:
    from bs4 import BeautifulSoup, NavigableString

    if b"\x00" in data:
        raise CorruptDocument("文件不是 HTML 文本 (binary data in an .html file)")
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    # Source-code line breaks are not text: fold them (outside <pre>) before marking block boundaries.
    for string in list(soup.find_all(string=True)):
        if string.find_parent("pre") is None:
            string.replace_with(NavigableString(re.sub(r"\s+", " ", _CJK_BREAK.sub("", str(string)))))
    for br in soup.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for cell in soup.find_all(["td", "th"]):
        cell.append(NavigableString("\t"))
    for block in soup.find_all(_BLOCK_TAGS):
        if block.name == "tr":  # table rows stay together, one per line
            block.append(NavigableString("\n"))
        else:
            block.insert_before(NavigableString("\n\n"))
            block.append(NavigableString("\n\n"))
    lines = []
    for line in soup.get_text().split("\n"):
        line = line.strip(" \u00a0").rstrip("\t").strip(" ")
        lines.append(re.sub(r" *\t *", "\t", line))
    return "\n".join(lines)


_CONVERTERS: dict[str, Callable[[bytes], str]] = {
    ".txt": decode_text,
    ".md": markdown_to_text,
    ".docx": docx_to_text,
    ".pdf": pdf_to_text,
    ".html": html_to_text,
    ".htm": html_to_text,
}

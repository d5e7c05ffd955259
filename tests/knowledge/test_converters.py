"""Uploaded files → plan text, with real files built by the maintained libraries (docx) or by hand (PDF).

Limits (issue 14): zip bombs, malformed XML, oversized text nodes, PDF page/stream bombs, text caps, the
watchdog's timeout and memory budget — all generated here, small on disk (a 200 MB document.xml is a 200 KB
.docx, built without compressing 200 MB: one full-flushed deflate block repeated).
"""

from __future__ import annotations

import io
import os
import re
import struct
import sys
import threading
import time
import zipfile
import zlib

import docx
import pytest
from pypdf import PdfWriter

from knowledge.converters import MAX_UPLOAD_BYTES, ParseLimits, convert, normalize, pdf_paragraphs
from knowledge.errors import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    ParseLimitExceeded,
    ParseTimeout,
    UnsupportedFormat,
)
from knowledge.parsing import parse_document

SERVICE = "为辖区内常住居民免费提供测试验证专项服务，每年一次。"


def make_pdf(lines: list[str]) -> bytes:
    """A minimal valid one-page PDF whose text is in a CJK CID font (UniGB-UCS2-H), one line per item."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "50 780 Td"]
    ops += [f"<{line.encode('utf-16-be').hex().upper()}> Tj T*" for line in lines]
    stream = "\n".join([*ops, "ET"]).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H"
        b" /DescendantFonts [6 0 R] >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light"
        b" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880]"
        b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_docx(with_table: bool = True) -> bytes:
    document = docx.Document()
    document.add_heading("测试规划", 0)
    document.add_paragraph("第一章 总则")
    document.add_paragraph("第一节 测试服务")
    document.add_paragraph(SERVICE)
    if with_table:
        table = document.add_table(rows=3, cols=3)
        for r, row in enumerate(
            [("指标", "单位", "目标值"), ("测试覆盖率", "%", "90"), ("满意度", "%", "95")]
        ):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
    document.add_paragraph("表格之后的段落。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def headings(text: str) -> set[str]:
    return {h.label for b in parse_document(text) for h in b.headings}


def test_txt_utf8_and_gb18030_and_newlines():
    text = f"第一章 总则\r\n\r\n\r\n\r\n{SERVICE}\r\n"
    assert convert("a.txt", text.encode("utf-8")) == f"第一章 总则\n\n{SERVICE}\n"
    assert convert("a.txt", text.encode("utf-8-sig")) == f"第一章 总则\n\n{SERVICE}\n"
    assert convert("a.TXT", text.encode("gb18030")) == f"第一章 总则\n\n{SERVICE}\n"


def test_markdown_headings_lists_tables_and_wrapped_lines():
    md = (
        "# 测试规划\n\n## 第一章 总则\n\n为辖区内常住居民免费提供\n测试验证专项服务，每年一次。\n\n"
        "1. 第一项。\n2. 第二项。\n\n| 指标 | 单位 |\n|---|---|\n| 测试率 | % |\n| 满意度 | % |\n"
    )
    text = convert("plan.md", md.encode())
    assert text == (
        f"测试规划\n\n第一章 总则\n\n{SERVICE}\n\n1. 第一项。\n\n2. 第二项。\n\n指标\t单位\n测试率\t%\n满意度\t%\n"
    )
    assert "#" not in text and "|" not in text


def test_docx_paragraphs_and_tables_in_body_order():
    text = convert("plan.docx", make_docx())
    assert text.index("第一章 总则") < text.index(SERVICE) < text.index("指标\t单位\t目标值")
    assert "测试覆盖率\t%\t90\n满意度\t%\t95" in text
    assert text.index("满意度") < text.index("表格之后的段落。")
    assert {"第一章", "第一节"} <= headings(text)


def test_pdf_text_and_wrapped_lines_joined():
    long_line = "为辖区内常住居民免费提供测试验证专项服务，并且这一行一直写到页面的右边缘"
    pdf = make_pdf(["测试规划", "第一章 总则", "第一节 测试服务", long_line, "才结束。", "Plain line."])
    text = convert("plan.pdf", pdf)
    assert text == f"测试规划\n\n第一章 总则\n\n第一节 测试服务\n\n{long_line}才结束。\n\nPlain line.\n"
    assert {"第一章", "第一节"} <= headings(text)


def test_pdf_paragraphs_is_pure_line_joining():
    assert pdf_paragraphs("短行\n另一短行。") == "短行\n\n另一短行。"
    assert pdf_paragraphs("") == ""


def test_html_blocks_tables_and_no_scripts():
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body><nav>首页 菜单</nav>"
        "<h1>测试规划</h1><h2>第一章 总则</h2><p>为辖区内常住居民免费提供\n测试验证<b>专项</b>服务，每年一次。</p>"
        "<table><tr><th>指标</th><th>单位</th></tr><tr><td>测试率</td><td>%</td></tr></table>"
        "<script>alert(1)</script></body></html>"
    )
    for name, data in [
        ("a.html", html.encode()),
        ("a.htm", html.encode("gb18030").replace(b"<head>", b'<head><meta charset="gb18030">')),
    ]:
        text = convert(name, data)
        assert text == f"测试规划\n\n第一章 总则\n\n{SERVICE}\n\n指标\t单位\n测试率\t%\n", name


def test_normalize_keeps_one_blank_line_and_drops_control_characters():
    assert normalize("a\x00b  \r\n\n\n\nc\f d") == "ab\n\nc\n\n d\n"


@pytest.mark.parametrize("name", ["plan.doc", "plan.exe", "plan", "plan.xlsx"])
def test_unsupported_formats(name):
    with pytest.raises(UnsupportedFormat, match="不支持"):
        convert(name, b"some bytes")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("plan.docx", b"PK\x03\x04 not really a zip"),
        ("plan.docx", make_docx()[:400]),  # truncated upload
        ("plan.pdf", b"%PDF-1.4\n1 0 obj garbage"),
        ("plan.pdf", b"this is not a pdf"),
        ("plan.txt", b"\x00\x01\x02\x03binary"),
        ("plan.txt", bytes(range(128, 256)) * 8),  # no charset makes sense of it
        ("plan.html", b"<html>\x00\x00</html>"),
    ],
)
def test_corrupt_files(name, data):
    with pytest.raises(CorruptDocument):
        convert(name, data)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("plan.txt", b""),
        ("plan.txt", b" \n\r\n\t "),
        ("plan.md", b"\n\n"),
        ("plan.html", b"<html><body><script>x()</script><p>  </p></body></html>"),
        ("plan.pdf", make_pdf([])),
    ],
)
def test_empty_files(name, data):
    with pytest.raises(EmptyDocument):
        convert(name, data)


def test_empty_docx():
    document = docx.Document()
    document.add_paragraph("   ")
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(EmptyDocument):
        convert("empty.docx", buffer.getvalue())


def test_size_limit():
    with pytest.raises(DocumentTooLarge, match="20 MB"):
        convert("big.txt", b"a" * (MAX_UPLOAD_BYTES + 1))


# --- limits (issue 14) ----------------------------------------------------------------------------
HERE = ParseLimits(timeout_seconds=0)  # in this process: the checks themselves, fast and measurable
MB = 1024 * 1024
CJK = re.compile(r"[\u4e00-\u9fff]")


def readable(exc: Exception) -> bool:
    """Chinese first, English in parentheses: what the admin console shows."""
    return bool(CJK.search(str(exc))) and "(" in str(exc)


def deflate_segments(*segments: tuple[bytes, int]) -> tuple[bytes, int, int]:
    """Raw deflate stream, CRC-32 and size of ``chunk * times`` for each segment, compressing each chunk once:
    a fully flushed block from a fresh compressor refers to nothing before it, so it can be repeated."""
    blocks, crc, size = [], 0, 0
    for chunk, times in segments:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        blocks.append((compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)) * times)
        for _ in range(times):
            crc = zlib.crc32(chunk, crc)
        size += len(chunk) * times
    return b"".join(blocks) + b"\x03\x00", crc, size  # an empty final block ends the stream


def build_zip(
    entries: list[tuple[str, bytes | tuple[bytes, int, int]]], declared: dict | None = None
) -> bytes:
    """A zip written by hand, entry by entry: plain bytes are deflated here, a (stream, crc, size) tuple is
    used as is; ``declared`` overrides an entry's uncompressed size in the headers (a lying archive)."""
    out, central = bytearray(), bytearray()
    for name, content in entries:
        if isinstance(content, tuple):
            stream, crc, size = content
        else:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            stream, crc, size = (
                compressor.compress(content) + compressor.flush(),
                zlib.crc32(content),
                len(content),
            )
        size = (declared or {}).get(name, size)
        raw = name.encode()
        fields = (8, 0, 0x21, crc, len(stream), size, len(raw))  # deflate, 1980-01-01
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, *fields, 0, 0, 0, 0, 0, len(out))
        central += raw
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *fields, 0) + raw + stream
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)


def docx_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(make_docx(with_table=False))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def docx_with(document_xml, declared: dict | None = None, extra: list | None = None) -> bytes:
    """A real .docx (python-docx's own parts) with word/document.xml replaced."""
    parts = docx_parts()
    entries = [(n, document_xml if n == "word/document.xml" else b) for n, b in parts.items()]
    return build_zip(entries + (extra or []), declared)


def body_xml(body: bytes) -> tuple[bytes, bytes]:
    """word/document.xml split around its body's content, to put something else there."""
    xml = docx_parts()["word/document.xml"]
    head, rest = xml.split(b"<w:body>", 1)
    return head + b"<w:body>", b"<w:sectPr/>" + rest[rest.index(b"</w:body>") :]


def bomb_docx(spaces: int = 200 * MB) -> bytes:
    """A .docx whose document.xml is ``spaces`` bytes of blanks around one paragraph: ~1 KB per MB on disk."""
    head, tail = body_xml(b"")
    paragraph = "<w:p><w:r><w:t>炸弹</w:t></w:r></w:p>".encode()
    return docx_with(deflate_segments((head + paragraph, 1), (b" " * MB, spaces // MB), (tail, 1)))


def text_docx(paragraphs: list[str]) -> bytes:
    head, tail = body_xml(b"")
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs).encode()
    return docx_with(head + body + tail)


def big_node_docx() -> bytes:
    """One text node of 11 MB that does not compress much (hex digits): under the ratio cap, over libxml2's."""
    head, tail = body_xml(b"")
    node = os.urandom(5_500_000).hex().encode()
    return docx_with(head + b"<w:p><w:r><w:t>" + node + b"</w:t></w:r></w:p>" + tail)


def zlib_segments(*segments: tuple[bytes, int]) -> bytes:
    """What zlib.compress would make of the segments' concatenation (header, deflate, Adler-32), built the
    cheap way of ``deflate_segments``."""
    stream, _, _ = deflate_segments(*segments)
    adler = 1
    for chunk, times in segments:
        for _ in range(times):
            adler = zlib.adler32(chunk, adler)
    return b"\x78\xda" + stream + struct.pack(">I", adler)


def pdf_with_content(content: bytes, pages: int = 1, flate: bool = False) -> bytes:
    """A one-page PDF (Helvetica) with this page content stream, flate-compressed already if ``flate``;
    ``pages`` is the page count the page tree declares."""
    dictionary = b"<< /Length %d%s >>" % (len(content), b" /Filter /FlateDecode" if flate else b"")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        dictionary + b"\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def bomb_pdf() -> bytes:
    """One page whose content stream inflates to 200 MB (a text operator, then blanks): ~200 KB on disk."""
    return pdf_with_content(
        zlib_segments((b"BT /F1 12 Tf 50 700 Td (Boom) Tj ET", 1), (b" " * MB, 200)), flate=True
    )


def many_pages_pdf(pages: int = 501) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(100, 100)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class PeakRss:
    """Peak resident memory of this process while the block runs, sampled every millisecond (Linux)."""

    def __enter__(self):
        self.base = self.peak = self.rss()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.001):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / MB

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/proc and RLIMIT_AS are Linux's"
)


@linux_only
def test_zip_bomb_docx_is_refused_before_anything_is_unpacked():
    bomb = bomb_docx()
    assert len(bomb) < 400 * 1024  # 200 MB of document.xml in a small file
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("word/document.xml").file_size > 200 * MB
    started = time.monotonic()
    with PeakRss() as rss, pytest.raises(ParseLimitExceeded, match="压缩炸弹") as refused:
        convert("bomb.docx", bomb, HERE)
    assert rss.growth_mb < 60, rss.growth_mb  # nothing was decompressed (in practice ~0 MB)
    assert time.monotonic() - started < 2
    assert isinstance(refused.value, DocumentTooLarge) and readable(refused.value)  # → 413
    with pytest.raises(ParseLimitExceeded, match="压缩炸弹"):  # and through the watchdog, as the API runs it
        convert("bomb.docx", bomb)


def test_zip_entry_ratio_total_and_count_caps():
    head, tail = body_xml(b"")
    small_blanks = deflate_segments((head, 1), (b" " * 1024, 900), (tail, 1))  # 0.9 MB at ~1000:1: allowed
    with pytest.raises(EmptyDocument):
        convert("blank.docx", docx_with(small_blanks), HERE)
    blanks = deflate_segments((head, 1), (b" " * MB, 2), (tail, 1))  # 2 MB at ~1000:1: a bomb
    with pytest.raises(ParseLimitExceeded, match="压缩比"):
        convert("ratio.docx", docx_with(blanks), HERE)
    # Under the ratio cap, over the total: several incompressible-ish parts adding up past the cap.
    limits = ParseLimits(timeout_seconds=0, max_unpacked_bytes=2 * MB)
    noise = [(f"word/media/image{i}.bin", os.urandom(MB)) for i in range(3)]
    with pytest.raises(ParseLimitExceeded, match="解压后超过 2 MB"):
        convert("total.docx", docx_with(docx_parts()["word/document.xml"], extra=noise), limits)
    many = [(f"customXml/item{i}.xml", b"<a/>") for i in range(1001)]
    with pytest.raises(ParseLimitExceeded, match="1000 个上限"):
        convert("entries.docx", docx_with(docx_parts()["word/document.xml"], extra=many), HERE)


def test_a_lying_zip_header_reads_no_more_than_it_declares():
    """Declared small, inflating to 200 MB: zipfile stops at the declared size and the CRC fails → 422."""
    head, tail = body_xml(b"")
    stream = deflate_segments((head, 1), (b" " * MB, 200), (tail, 1))
    lying = docx_with(stream, declared={"word/document.xml": 4000})
    with linux_rss() as rss, pytest.raises(CorruptDocument) as refused:
        convert("lying.docx", lying, HERE)
    assert rss.growth_mb < 60 and readable(refused.value)


def linux_rss():
    if sys.platform.startswith("linux"):
        return PeakRss()
    from contextlib import nullcontext

    class _Nothing:
        growth_mb = 0.0

    return nullcontext(_Nothing())


@pytest.mark.parametrize(
    "name", ["../../evil.xml", "/etc/evil.xml", "word\\..\\evil.xml", "C:/evil.xml", "word/../../evil.xml"]
)
def test_zip_entries_with_path_tricks_are_refused(name):
    with pytest.raises(CorruptDocument, match="非法路径"):
        convert("tricky.docx", docx_with(docx_parts()["word/document.xml"], extra=[(name, b"<a/>")]), HERE)


def test_duplicate_zip_entries_are_refused():
    twice = [("word/document.xml", text_docx(["别的内容。"]))]
    with pytest.raises(CorruptDocument, match="重复"):
        convert("twice.docx", docx_with(docx_parts()["word/document.xml"], extra=twice), HERE)


def test_malformed_docx_xml_is_422_not_500():
    xml = docx_parts()["word/document.xml"]
    for broken in (xml[:-30], xml.replace(b"</w:body>", b""), xml.replace(b"<w:p>", b"<w:p><w:r>", 1)):
        for limits in (HERE, None):  # in this process and through the watchdog
            with pytest.raises(CorruptDocument, match="XML") as refused:
                convert("broken.docx", docx_with(broken), limits)
            assert readable(refused.value)


def test_docx_xml_over_the_parser_limits_is_413():
    with pytest.raises(ParseLimitExceeded, match="XML") as refused:  # a text node over libxml2's 10 MB
        convert("node.docx", big_node_docx(), HERE)
    assert readable(refused.value)
    head, tail = body_xml(b"")
    deep = head + b"<w:p>" + b"<w:r>" * 300 + b"</w:r>" * 300 + b"</w:p>" + tail
    with pytest.raises(ParseLimitExceeded, match="XML"):  # nesting over 256
        convert("deep.docx", docx_with(deep), HERE)
    xml = docx_parts()["word/document.xml"]
    decl, rest = xml.split(b"?>", 1)
    entities = b'<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(9)
    )
    first_text = rest.index(b"<w:body>") + len(b"<w:body>")
    laughs = decl + b"?><!DOCTYPE w:document [" + entities + b"]>" + rest[:first_text]
    laughs += b"<w:p><w:r><w:t>&j;</w:t></w:r></w:p>" + rest[first_text:]
    with pytest.raises(ParseLimitExceeded, match="XML"):  # a billion laughs: libxml2's amplification cap
        convert("laughs.docx", docx_with(laughs), HERE)


def test_docx_external_entities_are_not_resolved():
    xml = docx_parts()["word/document.xml"]
    decl, rest = xml.split(b"?>", 1)
    first_text = rest.index(b"<w:body>") + len(b"<w:body>")
    xxe = decl + b'?><!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + rest[:first_text]
    xxe += "<w:p><w:r><w:t>正文&x;</w:t></w:r></w:p>".encode() + rest[first_text:]
    text = convert("xxe.docx", docx_with(xxe), HERE)
    assert text.startswith("正文\n") and "root:" not in text


def test_docx_text_over_the_text_cap_stops_early():
    limits = ParseLimits(timeout_seconds=0, max_text_bytes=64 * 1024)
    paragraphs = [f"{SERVICE}第{i}段。" for i in range(2000)]  # ~170 KB of text
    with pytest.raises(ParseLimitExceeded, match="转换后的文字超过") as refused:
        convert("long.docx", text_docx(paragraphs), limits)
    assert readable(refused.value)
    assert convert("short.docx", text_docx(paragraphs[:100]), limits).count("段。") == 100


def test_docx_encrypted_or_unknown_compression_entries_are_refused():
    archive = bytearray(make_docx())
    at = archive.index(b"PK\x01\x02")  # the first central directory entry: set its "encrypted" flag
    archive[at + 8] |= 0x1
    with pytest.raises(CorruptDocument, match="加密"):
        convert("locked.docx", bytes(archive), HERE)


def test_truncated_and_corrupt_pdfs_are_422():
    pdf = make_pdf(["测试规划", "第一章 总则", SERVICE])
    for broken in (
        pdf[: len(pdf) // 2],
        pdf[:300],
        pdf.replace(b"/Type /Pages", b"/Type /Papes"),
        b"%PDF-1.7\n%%EOF",
    ):
        for limits in (HERE, None):
            with pytest.raises((CorruptDocument, EmptyDocument)) as refused:
                convert("broken.pdf", broken, limits)
            assert readable(refused.value)
    with pytest.raises(CorruptDocument):
        convert("broken.pdf", pdf[: len(pdf) // 2], HERE)


def test_pdf_page_cap_stream_bomb_and_text_cap():
    many = many_pages_pdf(501)
    with pytest.raises(ParseLimitExceeded, match="500 页上限") as refused:
        convert("many.pdf", many, HERE)
    assert readable(refused.value)
    assert len(many) < 200 * 1024
    with pytest.raises(ParseLimitExceeded, match="500 页上限"):  # a declared page count is believed first
        convert("liar.pdf", pdf_with_content(b"BT /F1 12 Tf 50 700 Td (x) Tj ET", pages=10**9), HERE)
    bomb = bomb_pdf()
    assert len(bomb) < 400 * 1024
    with linux_rss() as rss, pytest.raises(ParseLimitExceeded, match="解压后超过 50 MB"):
        convert("bomb.pdf", bomb, HERE)
    assert rss.growth_mb < 200, rss.growth_mb  # pypdf inflates up to the 50 MB cap, then stops
    text = "BT /F1 12 Tf 50 700 Td " + " ".join(f"(Line {i} of the plan.) Tj T*" for i in range(400)) + " ET"
    limits = ParseLimits(timeout_seconds=0, max_text_bytes=4000)
    with pytest.raises(ParseLimitExceeded, match="转换后的文字超过"):
        convert("wordy.pdf", pdf_with_content(text.encode()), limits)
    assert "Line 399" in convert("wordy.pdf", pdf_with_content(text.encode()), HERE)


def test_text_cap_for_txt_md_and_html():
    limits = ParseLimits(timeout_seconds=0, max_text_bytes=10_000)
    body = "\n\n".join(f"{SERVICE}第{i}段。" for i in range(200))  # ~17 KB in UTF-8
    html = "".join(f"<p>{line}</p>" for line in body.split("\n\n"))
    for name, data in [("a.txt", body.encode()), ("a.md", body.encode()), ("a.html", html.encode())]:
        with pytest.raises(ParseLimitExceeded, match="转换后的文字超过") as refused:
            convert(name, data, limits)
        assert readable(refused.value)
    # GB18030 is two bytes per character where UTF-8 needs three: 8 KB of it is 12 KB of text.
    gb = body[:4000].encode("gb18030")
    assert len(gb) < 10_000 < len(body[:4000].encode())
    with pytest.raises(ParseLimitExceeded):
        convert("gb.txt", gb, limits)


def test_html_conversion_is_linear_and_skips_comments():
    page = "<html><body>" + "".join(f"<p>{SERVICE}第{i}段。</p>" for i in range(20_000)) + "</body></html>"
    started = time.monotonic()
    text = convert("big.html", page.encode(), HERE)  # ~1.7 MB: a minute before, about a second now
    assert time.monotonic() - started < 20
    assert text.count("段。") == 20_000
    html = b"<!DOCTYPE html><html><body><!-- internal note --><p>x</p><?php echo 1 ?></body></html>"
    assert convert("c.html", html, HERE) == "x\n"


@linux_only
def test_the_watchdog_times_out_and_caps_memory():
    page = (
        "<html><body>" + "<p>为辖区内常住居民免费提供测试验证专项服务。</p>" * 200_000 + "</body></html>"
    ).encode()
    started = time.monotonic()
    with pytest.raises(ParseTimeout, match="超时") as refused:
        convert("slow.html", page, ParseLimits(timeout_seconds=1))
    assert time.monotonic() - started < 10 and readable(refused.value)
    assert isinstance(refused.value, DocumentTooLarge)  # → 413
    with pytest.raises(ParseLimitExceeded, match="内存") as refused:
        convert("hungry.html", page, ParseLimits(memory_mb=60))
    assert readable(refused.value)


def test_the_watchdog_gives_the_same_text_and_errors():
    pdf = make_pdf(["测试规划", "第一章 总则", SERVICE])
    for name, data in [("a.docx", make_docx()), ("a.pdf", pdf), ("a.md", "# 标题\n\n正文。".encode())]:
        assert convert(name, data) == convert(name, data, HERE)
    for name, data, error in [
        ("e.txt", b"\x00bin", CorruptDocument),
        ("e.md", b"# \n", EmptyDocument),
    ]:
        with pytest.raises(error):
            convert(name, data)

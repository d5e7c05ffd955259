"""Uploaded files → plan text, with real files built by the maintained libraries (docx) or by hand (PDF)."""

from __future__ import annotations

import io

import docx
import pytest

from knowledge.converters import MAX_UPLOAD_BYTES, convert, normalize, pdf_paragraphs
from knowledge.errors import CorruptDocument, DocumentTooLarge, EmptyDocument, UnsupportedFormat
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

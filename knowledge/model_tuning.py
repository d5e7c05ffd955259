"""Fine-tune the embedder on the catalogue's everyday wording: resident question → the plan sentence that answers it.

Why: residents say 长护险, 重残补贴, "老人瘫在床上谁管"; the plans say 长期护理保险制度试点, 重度残疾人护理补贴,
失能照护. The colloquial files (knowledge/catalogue/colloquial/) hold, for every service, the names and questions
residents use, written from the plans and the catalogue — never from an evaluation set. Teaching the model that
those questions lie near the sentences holding the service's citation moves the whole plan's language towards
residents' language, for questions that no route entry matches word for word.

A tuned model is selected with ``MINSHENG_EMBEDDING_MODEL``; the product default stays the untuned model, which
did as well in the fused retrieval and matches the calibrated thresholds (``docs/benchmarks.md`` has both).
``scripts/tune_embedder.py`` runs it.
Pure parts (pairs, batches, the negatives mask) are testable without torch; ``tune`` runs the
MultipleNegativesRankingLoss objective (in-batch negatives) in a small deterministic loop — written out
because sentence-transformers' loss cannot mask the in-batch "negatives" that answer the question too.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.catalogue.colloquial import ServiceWording
from knowledge.catalogue.loader import Catalogue

_SENTENCE_END = re.compile(r"[。；！？\n]")
MAX_PASSAGE_CHARS = 200
TUNING_VERSION = 1  # bump when pairs or training change: the tuned directory is rebuilt


@dataclass(frozen=True)
class Pair:
    service_id: str
    query: str
    passage: str


@dataclass(frozen=True)
class TuningConfig:
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 2e-5
    scale: float = 20.0  # MNRL's temperature: sentence-transformers' default
    seed: int = 13


def sentence_around(text: str, start: int, end: int, limit: int = MAX_PASSAGE_CHARS) -> str:
    """The sentence(s) of ``text`` holding [start, end): what the retrieval's sentence ranker embeds."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    found = _SENTENCE_END.search(text, end)
    right = found.end() if found else len(text)
    sentence = text[left:right].strip()
    return sentence[:limit]


def tuning_pairs(
    catalogue: Catalogue, wording: dict[str, ServiceWording], source_texts: dict[str, str]
) -> list[Pair]:
    """Every question and everyday name of a service, paired with the sentence holding one of its citations
    (questions cycle over the citations, so a service cited in several places teaches all of them)."""
    pairs: list[Pair] = []
    for sid in sorted(catalogue.entries):
        entry = catalogue.entries[sid]
        w = wording.get(sid)
        if w is None or not entry.citations:
            continue
        passages = list(
            dict.fromkeys(
                sentence_around(source_texts[c.source], c.start, c.end)
                for c in entry.citations
                if c.source in source_texts
            )
        )
        passages = [p for p in passages if p]
        if not passages:
            continue
        for i, query in enumerate([*w.questions, *w.names]):
            pairs.append(Pair(sid, query, passages[i % len(passages)]))
    return pairs


def batches(pairs: Sequence[Pair], size: int, seed: int) -> list[list[Pair]]:
    """The pairs shuffled into batches of ``size`` (the last may be smaller; a lone pair is dropped: it has
    no negative to learn from)."""
    order = list(pairs)
    random.Random(seed).shuffle(order)
    out = [order[i : i + size] for i in range(0, len(order), size)]
    return [b for b in out if len(b) >= 2]


def negative_mask(batch: Sequence[Pair]) -> list[list[bool]]:
    """mask[i][j]: passage j may serve as a negative for query i — not when it belongs to the same service or is
    the same sentence (many services of a list quote one sentence), or the loss would push a question away
    from its own answer."""
    return [
        [i == j or (a.service_id != b.service_id and a.passage != b.passage) for j, b in enumerate(batch)]
        for i, a in enumerate(batch)
    ]


def tune(
    base: Path,
    out: Path,
    pairs: Sequence[Pair],
    *,
    query_prefix: str,
    passage_prefix: str,
    config: TuningConfig = TuningConfig(),
    threads: int = 2,
    log: Callable[[str], None] = print,
) -> dict:
    """Train a copy of the model at ``base`` on ``pairs`` and save it to ``out`` (a sentence-transformers
    directory). Word embeddings stay frozen: they are most of the weights, and a question's rare words
    should keep their pretrained meaning; the encoder layers learn the mapping."""
    import torch
    from sentence_transformers import SentenceTransformer

    random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(threads)
    model = SentenceTransformer(str(base), device="cpu")
    model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    plan = [
        b for epoch in range(config.epochs) for b in batches(pairs, config.batch_size, config.seed + epoch)
    ]
    warmup = max(1, len(plan) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / len(plan))
    )
    model.train()
    losses: list[float] = []
    for step, batch in enumerate(plan):
        q = model(model.tokenize([query_prefix + p.query for p in batch]))["sentence_embedding"]
        d = model(model.tokenize([passage_prefix + p.passage for p in batch]))["sentence_embedding"]
        # MultipleNegativesRankingLoss (cosine × scale, cross-entropy over the batch) with the false
        # negatives masked out
        scores = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T
        scores = (scores * config.scale).masked_fill(~torch.tensor(negative_mask(batch)), float("-inf"))
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss))
        if step % 10 == 0 or step == len(plan) - 1:
            log(f"step {step + 1}/{len(plan)} loss {losses[-1]:.3f}")
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    report = {
        "version": TUNING_VERSION,
        "base": str(base),
        "pairs": len(pairs),
        "steps": len(plan),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "config": config.__dict__,
    }
    (out / "minsheng-tuning.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return report

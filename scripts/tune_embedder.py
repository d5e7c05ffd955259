"""Fine-tune the embedder on the catalogue's everyday wording (knowledge/model_tuning.py) — an experiment tool.

    .venv/bin/python scripts/tune_embedder.py OUT_DIR [--epochs N]
    MINSHENG_EMBEDDING_MODEL=OUT_DIR MINSHENG_DATA_DIR=/tmp/var-tuned .venv/bin/minsheng ingest
    MINSHENG_EMBEDDING_MODEL=OUT_DIR MINSHENG_DATA_DIR=/tmp/var-tuned .venv/bin/minsheng eval retrieval …

The product keeps the untuned model: on 2026-12-01 one epoch (1,309 pairs, 41 steps, ~20 min on 2 busy cores)
raised the sentence ranker alone on dev2 (R@5 0.771 → 0.829) but not the fused retrieval the answers use, and it
lowered every similarity below the confidence thresholds calibrated for the untuned model (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from knowledge.catalogue.colloquial import load_wording
from knowledge.catalogue.loader import load_catalogue
from knowledge.model_tuning import TuningConfig, tune, tuning_pairs
from knowledge.settings import get_settings
from knowledge.sources import load_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=TuningConfig.epochs)
    args = parser.parse_args()
    settings = get_settings()
    docs = load_sources(settings.sources_dir)
    pairs = tuning_pairs(load_catalogue(docs), load_wording(), {d.file_name: d.text for d in docs})
    started = time.monotonic()
    report = tune(
        Path(settings.embedding_model_path),
        args.out,
        pairs,
        query_prefix=settings.query_prefix,
        passage_prefix=settings.passage_prefix,
        config=TuningConfig(epochs=args.epochs),
        threads=settings.torch_threads,
        log=lambda m: print(f"{time.monotonic() - started:6.0f}s {m}", flush=True),
    )
    print(
        f"tuned: {report['pairs']} pairs, {report['steps']} steps, loss {report['first_loss']:.3f} → "
        f"{report['last_loss']:.3f}, saved to {args.out}"
    )


if __name__ == "__main__":
    main()

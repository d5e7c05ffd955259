"""Ingest, versions and rollback on real Chroma with the real model."""

import threading

from knowledge.ingest import ingest
from knowledge.retrieval import Retriever
from knowledge.store import VersionStore, make_client


def test_unchanged_reingest_builds_nothing(settings, ingested):
    again = ingest(settings)
    assert not again.changed and again.version == ingested.version and again.embedded == 0


def test_forced_reingest_reuses_cached_embeddings(settings, ingested):
    forced = ingest(settings, force=True)
    assert forced.changed and forced.embedded == 0 and forced.version != ingested.version
    store = VersionStore(make_client(settings))
    assert store.current_version() == forced.version


def test_queries_during_reingest_never_fail_or_mix_versions(settings, ingested, extra_sources):
    store = VersionStore(make_client(settings))
    reader = Retriever(settings, refresh_seconds=0.0)
    before = store.require_current()
    errors: list[Exception] = []
    seen: list[tuple[str, list[str]]] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            try:
                result = reader.search("免费提供测试验证专项服务", top_k=5)
                seen.append((result.version, [h.chunk_id for h in result.hits]))
            except Exception as exc:  # noqa: BLE001 - any failure is what we test for
                errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        result = ingest(settings, extra_sources, note="with test plan")
    finally:
        done.set()
        for t in threads:
            t.join()

    assert not errors
    assert result.changed and result.embedded >= 1
    versions = {v for v, _ in seen}
    assert versions <= {before, result.version} and seen
    ids = {v: {c.id for c in store.load_chunks(v)[0]} for v in versions}
    for version, hit_ids in seen:
        assert set(hit_ids) <= ids[version]  # every hit of one answer comes from that answer's version
    new_ids = ids.get(result.version, set())
    assert not any(i.startswith("test-plan:") for i in ids[before])
    after = reader.search("免费提供测试验证专项服务", top_k=3)
    assert after.version == result.version and after.hits[0].chunk_id.startswith("test-plan:")
    assert new_ids or after.version == result.version

    # Rollback: the previous version serves again, complete.
    store.activate(before)
    rolled = reader.search("免费提供测试验证专项服务", top_k=3)
    assert rolled.version == before and not any(h.chunk_id.startswith("test-plan:") for h in rolled.hits)


def test_only_the_last_versions_are_kept(settings, ingested):
    store = VersionStore(make_client(settings))
    for _ in range(settings.keep_versions + 1):
        ingest(settings, force=True)
    kept = store.versions()
    assert len(kept) <= settings.keep_versions
    assert store.current_version() in {v.version for v in kept}

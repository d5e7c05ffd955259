"""Server-Sent Events fed from the Redis event channel (live queues in consoles, operator replies in widgets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis

from knowledge.settings import Settings


async def event_stream(
    settings: Settings, keep: Callable[[dict], dict | None], event_name: str | None = None
) -> AsyncIterator[dict]:
    """Yield SSE events for every published event that ``keep`` maps to a payload (None drops it)."""
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    pubsub = client.pubsub()
    await pubsub.subscribe(f"{settings.redis_prefix}:events")
    try:
        yield {"event": "ready", "data": "{}"}
        async for item in pubsub.listen():
            if item.get("type") != "message":
                continue
            try:
                event = json.loads(item["data"])
                payload = keep(event) if isinstance(event, dict) else None
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # one malformed event must not end every open stream
            if payload is not None:
                yield {
                    "event": event_name or event["event"],
                    "data": json.dumps(payload, ensure_ascii=False, default=str),
                }
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
        await client.aclose()

"""Group what residents asked and did not get answered, so admins see what the knowledge base is missing.

Pure: the embedding function is passed in (the real model in production, anything in unit tests).
Greedy single pass against running group centroids: a few thousand short questions group in well
under a second, and the result does not depend on a cluster count chosen in advance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, Field

SIMILAR = 0.86  # cosine of e5-small query embeddings; paraphrases of one question sit above it


class Item(BaseModel):
    text: str
    kind: str  # "refused" | "downvoted"
    reason: str | None = None
    ts: float
    comment: str | None = None


class Group(BaseModel):
    label: str  # the most common wording in the group
    count: int
    kinds: dict[str, int]
    reasons: dict[str, int]
    examples: list[str] = Field(description="distinct wordings, newest first")
    comments: list[str] = Field(default_factory=list)
    last_seen: float


def group_items(
    items: Sequence[Item],
    embed: Callable[[list[str]], np.ndarray],
    threshold: float = SIMILAR,
    max_examples: int = 5,
) -> list[Group]:
    """Groups ordered by size, then recency."""
    if not items:
        return []
    ordered = sorted(items, key=lambda i: i.ts, reverse=True)
    vectors = np.asarray(embed([i.text for i in ordered]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    members: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for index, vector in enumerate(vectors):
        if centroids:
            sims = np.stack(centroids) @ vector
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                members[best].append(index)
                mean = vectors[members[best]].mean(axis=0)
                centroids[best] = mean / (np.linalg.norm(mean) + 1e-12)
                continue
        members.append([index])
        centroids.append(vector)
    groups = [_group([ordered[i] for i in idx], max_examples) for idx in members]
    return sorted(groups, key=lambda g: (-g.count, -g.last_seen))


def _group(items: list[Item], max_examples: int) -> Group:
    wordings = Counter(i.text for i in items)
    examples = list(dict.fromkeys(i.text for i in items))[:max_examples]
    return Group(
        label=wordings.most_common(1)[0][0],
        count=len(items),
        kinds=dict(Counter(i.kind for i in items)),
        reasons=dict(Counter(i.reason for i in items if i.reason)),
        examples=examples,
        comments=[i.comment for i in items if i.comment][:max_examples],
        last_seen=max(i.ts for i in items),
    )

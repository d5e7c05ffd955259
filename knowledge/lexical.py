"""Lexical side of retrieval: jieba word BM25 and character-bigram BM25 (bm25s), plus query expansion.

Two lexical views because they fail differently: jieba words match whole official terms
(孕前优生健康检查), character bigrams survive odd segmentation and typos in phone-typed questions.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import bm25s
import jieba
import numpy as np
import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TOKEN_CHARS = re.compile(r"[\u4e00-\u9fff]+|[A-Za-z]+|\d+(?:\.\d+)?")
_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "等",
        "对",
        "为",
        "把",
        "被",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "嘛",
        "哦",
        "啥",
        "么",
        "什么",
        "怎么",
        "怎样",
        "咋",
        "咋样",
        "如何",
        "能",
        "能不能",
        "可以",
        "可不可以",
        "有没有",
        "没有",
        "有",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "她",
        "它",
        "咱",
        "咱们",
        "这",
        "那",
        "这个",
        "那个",
        "这边",
        "那边",
        "这种",
        "那种",
        "这些",
        "那些",
        "要",
        "想",
        "会",
        "就",
        "都",
        "也",
        "还",
        "又",
        "再",
        "很",
        "太",
        "一下",
        "一个",
        "个",
        "些",
        "吧",
        "自己",
        "现在",
        "以后",
        "之前",
        "多少",
        "几",
        "哪",
        "哪些",
        "哪个",
        "里",
        "里面",
        "上",
        "下",
        "中",
        "给",
        "让",
        "说",
        "听说",
        "规划",
        "到底",
    ]
)


@cache
def _jieba() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(DATA_DIR / "userdict.txt"))
    from knowledge.regions import place_names

    for name in place_names():
        if len(name) >= 2:
            tokenizer.add_word(name, freq=20)
    return tokenizer


@cache
def synonyms() -> dict[str, list[str]]:
    return yaml.safe_load((DATA_DIR / "synonyms.yaml").read_text(encoding="utf-8"))


def expand_query(query: str) -> str:
    """The query plus the official terms for the colloquial words it contains."""
    extra = [term for word, terms in synonyms().items() if word in query for term in terms]
    extra = [t for t in dict.fromkeys(extra) if t not in query]
    return f"{query} {' '.join(extra)}" if extra else query


def word_tokens(text: str) -> list[str]:
    words = _jieba().lcut_for_search(text)
    return [
        w
        for w in (w.strip().lower() for w in words)
        if w and w not in _STOPWORDS and _TOKEN_CHARS.fullmatch(w)
    ]


def char_bigrams(text: str) -> list[str]:
    tokens: list[str] = []
    for run in _TOKEN_CHARS.findall(text):
        if _CJK.match(run):
            tokens.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        else:
            tokens.append(run.lower())
    return tokens


class LexicalIndex:
    """BM25 over words and over character bigrams for one fixed list of documents."""

    def __init__(self, documents: list[str]):
        self.size = len(documents)
        self._words = bm25s.BM25()
        self._words.index([word_tokens(d) or ["∅"] for d in documents], show_progress=False)
        self._chars = bm25s.BM25()
        self._chars.index([char_bigrams(d) or ["∅"] for d in documents], show_progress=False)

    def word_scores(self, query: str) -> np.ndarray:
        tokens = word_tokens(query)
        return self._words.get_scores(tokens) if tokens else np.zeros(self.size)

    def char_scores(self, query: str) -> np.ndarray:
        tokens = char_bigrams(query)
        return self._chars.get_scores(tokens) if tokens else np.zeros(self.size)

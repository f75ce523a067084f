"""`socialdesk triage score|eval|train`: the scorer from the command line.

score and eval need no broker or index; train can pull operators' corrections from
the index (--from-index) or a JSONL file (--corrections).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from socialdesk.settings import TriageSettings
from socialdesk_triage.dataset import (
    DatasetError,
    Example,
    load_jsonl,
    load_shipped,
    merge_corrections,
    parse_example,
    split,
)

BATCH = 512


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        nargs="?",
        default="run",
        choices=["run", "score", "eval", "train"],
        help="run the service (default), score JSONL from stdin, evaluate, or retrain",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="labelled data (data/triage)")
    p.add_argument("--model", type=Path, default=None, help="model file to use or write")
    p.add_argument("--json", action="store_true", help="eval/train: print JSON, not tables")
    p.add_argument(
        "--corrections",
        type=Path,
        action="append",
        default=[],
        help="train: JSONL of corrected examples (repeatable)",
    )
    p.add_argument(
        "--slices",
        action="store_true",
        help="eval: also the slice split (trains one model per slice group: minutes)",
    )
    p.add_argument(
        "--from-index",
        action="store_true",
        help="train: add the corrections operators made in the console",
    )


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    settings = TriageSettings()
    return (
        args.data_dir or settings.triage_data_dir,
        args.model or settings.triage_model_path,
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "score":
            return cmd_score(args, sys.stdin, sys.stdout)
        if args.action == "eval":
            return cmd_eval(args)
        if args.action == "train":
            return cmd_train(args)
    except DatasetError as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.action)


def cmd_score(args: argparse.Namespace, src: TextIO, dst: TextIO) -> int:
    """JSONL in, JSONL out; a line that is not an object with id and text gets an
    error object on the same line number, so outputs stay aligned with inputs."""
    from socialdesk_triage.scorer import ScoreInput, build_scorer

    data_dir, model_path = _paths(args)
    scorer = build_scorer(data_dir, model_path)
    pending: list[tuple[int, Any, ScoreInput | None, str | None]] = []
    failures = 0

    def flush() -> None:
        good = [(n, i, s) for n, i, s, _ in pending if s is not None]
        grades = iter(scorer.score_batch([s for _, _, s in good]))
        for _n, ident, inp, err in pending:
            if inp is None:
                dst.write(json.dumps({"id": ident, "error": err}) + "\n")
                continue
            t = next(grades)
            dst.write(
                json.dumps(
                    {
                        "id": ident,
                        "priority": t.priority.value,
                        "intent": t.intent.value,
                        "flags": [f.value for f in t.flags],
                        "urgency": t.urgency,
                        "confidence": t.confidence,
                        "language": t.language,
                        "reasons": t.reasons,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        dst.flush()
        pending.clear()

    for n, line in enumerate(src, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            pending.append((n, None, None, f"line {n}: not JSON ({exc.msg})"))
            failures += 1
        else:
            if not isinstance(obj, dict) or "id" not in obj:
                pending.append((n, None, None, f"line {n}: needs an object with 'id' and 'text'"))
                failures += 1
            else:
                text = obj.get("text")
                # Missing or non-text 'text' is still graded: P2, "could not be assessed".
                pending.append(
                    (
                        n,
                        obj["id"],
                        ScoreInput(text if isinstance(text, str) else "", obj.get("language")),
                        None,
                    )
                )
        if len(pending) >= BATCH:
            flush()
    flush()
    if failures:
        print(f"{failures} line(s) could not be read; see the 'error' objects", file=sys.stderr)
    return 1 if failures else 0


def _report(model: Any, held_out: list[Example]) -> dict[str, Any]:
    from socialdesk_triage.evaluate import evaluate

    return evaluate(model, held_out)


def cmd_eval(args: argparse.Namespace) -> int:
    """The held-out split as always, then the figures on text written elsewhere: the
    real messages' held-out half, the separately written slices, and with --slices the
    slice split (each slice graded by a model that never saw its file group)."""
    from socialdesk_triage.corpus import cache_dir_for, held_out_real, load_fresh
    from socialdesk_triage.evaluate import generalisation, render, render_generalisation
    from socialdesk_triage.realtext import real_examples, split_real
    from socialdesk_triage.scorer import build_scorer

    data_dir, model_path = _paths(args)
    scorer = build_scorer(data_dir, model_path)
    _, held_out = split(load_shipped(data_dir))
    assert scorer.model is not None
    report = _report(scorer.model, held_out)
    cache = cache_dir_for(data_dir)
    slices = None
    if args.slices:
        from socialdesk_triage.evaluate import slice_predictions

        real_train, _ = split_real(real_examples(data_dir, cache))
        slices = slice_predictions(
            data_dir, real_train, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
    sets = {"real held-out": held_out_real(data_dir, cache), "fresh slice": load_fresh(data_dir)}
    report["generalisation"] = generalisation(scorer.model, sets, slices)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
        print()
        print(render_generalisation(report["generalisation"]))
    return 0


def corrections_from_index() -> list[Example]:
    """Every operator correction in the corrections index (latest label per item)."""
    from socialdesk import indices
    from socialdesk.es import alias, make_es

    settings = TriageSettings()

    async def fetch() -> list[dict[str, Any]]:
        es = make_es(settings)
        try:
            out: list[dict[str, Any]] = []
            after: list[Any] | None = None
            while True:
                kw: dict[str, Any] = {"search_after": after} if after else {}
                res = await es.search(
                    index=alias(settings, indices.CORRECTIONS),
                    query={"match_all": {}},
                    sort=[{"item_id": "asc"}],
                    size=1000,
                    **kw,
                )
                hits = res["hits"]["hits"]
                out.extend(h["_source"] for h in hits)
                if len(hits) < 1000:
                    return out
                after = hits[-1]["sort"]
        finally:
            await es.close()

    docs = asyncio.run(fetch())
    return [
        parse_example(
            {**d, "id": f"correction:{d['item_id']}"}, f"corrections/{d['item_id']}", "correction"
        )
        for d in docs
    ]


def cmd_train(args: argparse.Namespace) -> int:
    """Retrain from shipped data, the real messages' training half and corrections;
    print held-out figures before and after."""
    from socialdesk_triage.corpus import cache_dir_for, training_fingerprint
    from socialdesk_triage.evaluate import render
    from socialdesk_triage.model import load, save, train
    from socialdesk_triage.realtext import graded_path, real_examples, split_real

    data_dir, model_path = _paths(args)
    started = time.monotonic()

    def stage(what: str) -> None:  # a fit takes a while: say where it is, with the time
        print(f"[{time.monotonic() - started:5.1f}s] {what}", file=sys.stderr, flush=True)

    stage(f"reading labelled data from {data_dir}")
    shipped = load_shipped(data_dir)
    corrections: list[Example] = []
    for path in args.corrections:
        corrections.extend(load_jsonl(path, source="correction"))
    if args.from_index:
        stage("reading operators' corrections from the index")
        corrections.extend(corrections_from_index())
    train_set, held_out = split(merge_corrections(shipped, corrections))
    if graded_path(data_dir).exists():
        stage("reading the real messages' training half")
        real_train, _ = split_real(real_examples(data_dir, cache_dir_for(data_dir)))
        train_set.extend(real_train)
    before = None
    if model_path.exists():
        stage(f"evaluating the current model ({model_path})")
        try:
            before = _report(load(model_path), held_out)
        except Exception as exc:
            print(f"(the current model at {model_path} could not be read: {exc})", file=sys.stderr)
    print(
        f"training on {len(train_set)} examples ({len(corrections)} corrections); "
        f"{len(held_out)} held out",
        file=sys.stderr,
    )
    model = train(train_set, progress=lambda what: stage(f"fitting: {what}"))
    model.shipped_fingerprint = training_fingerprint(data_dir)
    stage("evaluating the new model on the held-out split")
    after = _report(model, held_out)
    save(model, model_path)
    stage("done")
    if args.json:
        print(json.dumps({"before": before, "after": after, "model": str(model_path)}, indent=2))
    else:
        if before is not None:
            print("== before ==")
            print(render(before))
            print()
        print("== after ==")
        print(render(after))
        print(f"\nsaved {model_path}; restart triage to use it")
    return 0

"""triage benchmark: scorer throughput on one core (held-out texts, batches of 512),
beside the safety rules alone in the same run; then the `socialdesk triage` service on
noida-db: mentions.raw to mentions.triaged at a steady offered rate.
Prints figures and returns them for bench/run.py."""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import Stack, StackPorts, kill_tree

ROOT = Path(__file__).resolve().parents[1]


def _one_core() -> set[int]:
    """Pin this process to one CPU (the floor is per core); returns the old set."""
    cpus = set(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {min(cpus)})
    return cpus


def scorer_throughput(n: int = 20_000) -> dict[str, Any]:

    cpus = _one_core()
    try:
        return _throughput(n)
    finally:
        os.sched_setaffinity(0, cpus)


def _throughput(n: int) -> dict[str, Any]:
    from socialdesk_triage.dataset import load_shipped, split
    from socialdesk_triage.model import load
    from socialdesk_triage.scorer import ScoreInput, Scorer, build_scorer

    scorer = build_scorer(ROOT / "data" / "triage")
    t0 = time.perf_counter()
    load(ROOT / ".data" / "models" / "triage.joblib")
    load_s = time.perf_counter() - t0
    _, held = split(load_shipped(ROOT / "data" / "triage"))
    texts = [held[i % len(held)].text for i in range(n)]
    inputs = [ScoreInput(t) for t in texts]
    scorer.score_batch(inputs[:512])  # warm caches (lingua, vectorisers)
    t0 = time.perf_counter()
    for i in range(0, n, 512):
        scorer.score_batch(inputs[i : i + 512])
    full = n / (time.perf_counter() - t0)
    rules_only = Scorer(None)
    m = n // 4
    t0 = time.perf_counter()
    for i in range(0, m, 512):
        rules_only.score_batch(inputs[i : i + 512])
    rules = m / (time.perf_counter() - t0)
    single = []
    for inp in inputs[:500]:
        s = time.perf_counter()
        scorer.score_batch([inp])
        single.append((time.perf_counter() - s) * 1000)
    single.sort()
    # The loop above cycles through the held-out texts, so after the first pass every
    # word's character n-grams are cached (vectorise.py). Real traffic brings new words:
    # a freshly loaded scorer (empty caches) over every shipped text once, 2,500-odd
    # different messages, is the figure for that.
    fresh = build_scorer(ROOT / "data" / "triage")
    unique = [ScoreInput(e.text) for e in load_shipped(ROOT / "data" / "triage")]
    t0 = time.perf_counter()
    for i in range(0, len(unique), 512):
        fresh.score_batch(unique[i : i + 512])
    new_words = len(unique) / (time.perf_counter() - t0)
    return {
        "scorer_per_s_one_core": round(full),
        "scorer_per_s_one_core_new_texts": round(new_words),
        "rules_only_per_s_one_core": round(rules),
        "ratio_full_to_rules": round(full / rules, 3),
        "single_message_p50_ms": round(statistics.median(single), 2),
        "single_message_p99_ms": round(single[int(0.99 * len(single)) - 1], 2),
        "mean_text_chars": round(sum(map(len, texts)) / len(texts)),
        "model_load_s": round(load_s, 2),
        "max_resident_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _mention(n: int, run: str, text: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps(
        {
            "id": f"x:{run}{n}",
            "platform": "x",
            "native_id": f"{run}{n}",
            "channel": "public_mention",
            "author": {"id": f"a{n % 3000}", "handle": f"author{n % 3000}"},
            "text": text,
            "posted_at": now,
            "received_at": now,
            "force_account": {"platform": "x", "handle": "MerseyPolice"},
        }
    ).encode()


def service_keeps_up(stack: Stack, prefix: str, rate: int = 1000, seconds: int = 30) -> dict:
    """Offer `rate` mentions/s for `seconds` to a running triage process; measure the
    rate it delivers and each mention's lag from received to scored. It keeps up when
    that lag does not grow from the first tenth of the run to the last. The time to
    finish behind the offer includes reading every result back afterwards (about
    1 s per 15,000 on noida-db), so it grows with the run's length by itself."""
    from socialdesk_triage.dataset import load_shipped

    texts = [e.text for e in load_shipped(ROOT / "data" / "triage")]
    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    ensure_topics(settings, load_topic_specs().values())
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
        "SOCIALDESK_LOG_LEVEL": "WARNING",
        "SOCIALDESK_TRIAGE_MODEL_PATH": str(ROOT / ".data" / "models" / "triage.joblib"),
    }
    proc = stack.spawn("triage", extra_env=env)
    try:
        stack.wait_ready("triage", 180)
        producer = KafkaProducer(bootstrap_servers=stack.kafka, acks="all", linger_ms=5)
        run = f"t{int(time.time())}-"
        total = rate * seconds
        t0 = time.perf_counter()
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            producer.send(prefix + "mentions.raw", value=_mention(i, run, texts[i % len(texts)]))
        producer.flush()
        offered_s = time.perf_counter() - t0
        consumer = KafkaConsumer(
            prefix + "mentions.triaged",
            bootstrap_servers=stack.kafka,
            auto_offset_reset="earliest",
            group_id=None,
            consumer_timeout_ms=30_000,
        )
        got = 0
        lags: list[tuple[int, float]] = []  # (offer order, received -> scored seconds)
        for record in consumer:
            got += 1
            tm = json.loads(record.value)
            if tm["mention"]["id"].startswith(f"x:{run}"):
                n = int(tm["mention"]["id"][len(f"x:{run}") :])
                received = datetime.fromisoformat(tm["mention"]["received_at"])
                scored = datetime.fromisoformat(tm["triage"]["scored_at"])
                lags.append((n, (scored - received).total_seconds()))
            if got >= total:
                break
        done_s = time.perf_counter() - t0
        consumer.close()
        producer.close()
    finally:
        kill_tree(proc)
    # Keeping up means the lag does not grow: compare the first and last tenth offered.
    lags.sort()
    tenth = max(1, len(lags) // 10)
    first = sorted(lag for _, lag in lags[:tenth])
    last = sorted(lag for _, lag in lags[-tenth:])
    every = sorted(lag for _, lag in lags)
    return {
        "offered_per_s": rate,
        "offered_for_s": seconds,
        "triaged": got,
        "delivered_per_s": round(got / done_s),
        "finished_behind_offer_s": round(done_s - offered_s, 2),
        "lag_p50_s": round(_pct(every, 0.5), 2),
        "lag_p99_s": round(_pct(every, 0.99), 2),
        "lag_p50_first_tenth_s": round(_pct(first, 0.5), 2),
        "lag_p50_last_tenth_s": round(_pct(last, 0.5), 2),
        "lag_p50_by_tenth_s": [
            round(_pct(sorted(lag for _, lag in lags[k * tenth : (k + 1) * tenth]), 0.5), 2)
            for k in range(10)
        ],
    }


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run(
    stack: Stack | None = None, prefix: str = "triagebench.", service_s: int = 30
) -> dict[str, Any]:
    out = scorer_throughput()
    print(json.dumps(out), flush=True)
    out["variants"] = compare_variants()
    print(json.dumps(out), flush=True)
    if stack is not None:
        out["service"] = service_keeps_up(stack, prefix, seconds=service_s)
        print(json.dumps(out["service"]), flush=True)
    return out


def compare_variants() -> dict[str, Any]:
    """The measurement behind the model choice: linear variants on the same split
    (classifier layer alone, no rules)."""
    import numpy as np
    from sklearn.metrics import f1_score, recall_score
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    from socialdesk_triage.dataset import load_shipped, split
    from socialdesk_triage.model import _logreg, _svm, _vectorisers, normalise

    train, held = split(load_shipped(ROOT / "data" / "triage"))
    xs = [normalise(e.text) for e in train]
    hs = [normalise(e.text) for e in held]
    yi = np.asarray([e.intent.value for e in train])
    hi = np.asarray([e.intent.value for e in held])
    yp1 = np.asarray([e.priority.value == "P1" for e in train])
    hp1 = np.asarray([e.priority.value == "P1" for e in held])
    from scipy import sparse

    out: dict[str, Any] = {}
    word, char = _vectorisers()
    feats = {
        "word+char": (
            sparse.hstack([word.fit_transform(xs), char.fit_transform(xs)]).tocsr(),
            sparse.hstack([word.transform(hs), char.transform(hs)]).tocsr(),
        ),
    }
    w2, c2 = _vectorisers()
    feats["word only"] = (w2.fit_transform(xs), w2.transform(hs))
    feats["char only"] = (c2.fit_transform(xs), c2.transform(hs))
    for fname, (xtr, xte) in feats.items():
        models = {"logistic regression": lambda: _logreg(8.0)}
        if fname == "word+char":
            models["linear SVM"] = lambda: LinearSVC(C=0.5, class_weight="balanced")
            models["calibrated linear SVM (the recipe's heads)"] = lambda: _svm(0.5)
            models["complement naive Bayes"] = lambda: ComplementNB(alpha=0.3)
        for mname, make in models.items():
            t0 = time.perf_counter()
            intent = make().fit(xtr, yi)
            p1 = make().fit(xtr, yp1)
            fit_s = time.perf_counter() - t0
            out[f"{mname}, {fname}"] = {
                "intent_macro_f1": round(
                    float(f1_score(hi, intent.predict(xte), average="macro")), 3
                ),
                "p1_recall_alone": round(float(recall_score(hp1, p1.predict(xte))), 3),
                "fit_s": round(fit_s, 2),
            }
    return out


def out_of_fold(seeds: tuple[int, ...] = (0, 1), folds: int = 5) -> list[dict[str, Any]]:
    """The out-of-fold figures of docs/triage.md: the training split only, each fold
    scored by a model trained on the others, through the scorer's own combination of
    rules and classifier at the threshold the full training run chooses. Never touches
    the held-out split."""
    import numpy as np
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    from socialdesk_triage.dataset import load_shipped, split
    from socialdesk_triage.model import train
    from socialdesk_triage.scorer import ScoreInput, Scorer, build_scorer

    shipped = build_scorer(ROOT / "data" / "triage").model
    assert shipped is not None
    threshold = shipped.p1_threshold
    examples, _ = split(load_shipped(ROOT / "data" / "triage"))
    grades = np.asarray([e.priority.value for e in examples])
    intents = np.asarray([e.intent.value for e in examples])
    out = []
    for seed in seeds:
        got_p = np.empty(len(examples), dtype=object)
        got_i = np.empty(len(examples), dtype=object)
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for tr, te in cv.split(np.zeros(len(examples)), grades):
            model = train([examples[i] for i in tr], calibrate_p1=False)
            model.p1_threshold = threshold
            scored = Scorer(model).score_batch([ScoreInput(examples[i].text) for i in te])
            for j, t in zip(te, scored, strict=True):
                got_p[j], got_i[j] = t.priority.value, t.intent.value
        gold, said = grades == "P1", got_p == "P1"
        out.append(
            {
                "seed": seed,
                "examples": len(examples),
                "p1_threshold": threshold,
                "p1_recall": round(float((gold & said).sum() / gold.sum()), 3),
                "p1_precision": round(float((gold & said).sum() / said.sum()), 3),
                "intent_macro_f1": round(
                    float(f1_score(intents, got_i.astype(str), average="macro")), 3
                ),
            }
        )
    return out


def profile(n: int = 4096, top: int = 30) -> None:
    """Where the scorer's time goes: cProfile over n held-out texts on one core."""
    import cProfile
    import pstats

    from socialdesk_triage.dataset import load_shipped, split
    from socialdesk_triage.scorer import ScoreInput, build_scorer

    _one_core()
    scorer = build_scorer(ROOT / "data" / "triage")
    _, held = split(load_shipped(ROOT / "data" / "triage"))
    inputs = [ScoreInput(held[i % len(held)].text) for i in range(n)]
    scorer.score_batch(inputs[:512])  # warm caches
    prof = cProfile.Profile()
    prof.enable()
    for i in range(0, n, 512):
        scorer.score_batch(inputs[i : i + 512])
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    import sys
    import tempfile

    if "--oof" in sys.argv:  # out-of-fold figures on the training split only
        print(json.dumps(out_of_fold(), indent=2))
        raise SystemExit(0)
    if "--profile" in sys.argv:  # cProfile of the scorer on one core, no stack
        profile()
        raise SystemExit(0)
    with tempfile.TemporaryDirectory() as tmp:
        st = Stack(Path(tmp), ports=StackPorts.free())
        st.start_noida()
        try:
            print(json.dumps(run(st, f"tb{int(time.time())}."), indent=2))
        finally:
            st.stop_noida()

"""Evaluation on the held-out split: the figures docs/triage.md quotes.

Each layer is measured on its own (rules alone, classifier alone) and combined, over
all held-out examples and separately for English and Welsh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialdesk.events import Triage
from socialdesk.taxonomy import Flag, Intent, Priority
from socialdesk_triage.dataset import LABELLED_FLAGS, Example
from socialdesk_triage.model import TriageModel
from socialdesk_triage.scorer import ScoreInput, Scorer

GRADES = [p.value for p in Priority]
INTENTS = [i.value for i in Intent]


@dataclass
class Labels:
    priority: list[str]
    intent: list[str]
    flags: list[set[str]]


def _metrics(gold: Labels, pred: Labels) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    n = len(gold.priority)
    out: dict[str, Any] = {"n": n}
    if n == 0:
        return out
    gp1 = [g == "P1" for g in gold.priority]
    pp1 = [p == "P1" for p in pred.priority]
    tp = sum(a and b for a, b in zip(gp1, pp1, strict=True))
    out["p1_support"] = sum(gp1)
    out["p1_recall"] = round(tp / sum(gp1), 4) if any(gp1) else None
    out["p1_precision"] = round(tp / sum(pp1), 4) if any(pp1) else None
    g12 = [g in ("P1", "P2") for g in gold.priority]
    p12 = [p in ("P1", "P2") for p in pred.priority]
    out["p1p2_recall"] = (
        round(sum(a and b for a, b in zip(g12, p12, strict=True)) / sum(g12), 4)
        if any(g12)
        else None
    )
    out["p1_graded_low"] = sum(
        g == "P1" and p in ("P3", "P4") for g, p in zip(gold.priority, pred.priority, strict=True)
    )
    low = [not x for x in g12]
    out["low_raised"] = (
        round(sum(a and b for a, b in zip(low, p12, strict=True)) / sum(low), 4)
        if any(low)
        else None
    )
    out["grade_accuracy"] = round(
        sum(a == b for a, b in zip(gold.priority, pred.priority, strict=True)) / n, 4
    )
    out["grade_confusion"] = confusion_matrix(gold.priority, pred.priority, labels=GRADES).tolist()
    present = [i for i in INTENTS if i in gold.intent]
    p, r, f, s = precision_recall_fscore_support(
        gold.intent, pred.intent, labels=present, zero_division=0
    )
    out["intents"] = {
        name: {
            "precision": round(float(p[k]), 3),
            "recall": round(float(r[k]), 3),
            "f1": round(float(f[k]), 3),
            "support": int(s[k]),
        }
        for k, name in enumerate(present)
    }
    out["intent_macro_f1"] = round(float(f.mean()), 4) if len(f) else None
    flags: dict[str, Any] = {}
    for flag in [*LABELLED_FLAGS, Flag.welsh_language]:
        support = sum(flag.value in g for g in gold.flags)
        if not support:
            continue
        hit = sum(
            flag.value in g and flag.value in q for g, q in zip(gold.flags, pred.flags, strict=True)
        )
        said = sum(flag.value in q for q in pred.flags)
        flags[flag.value] = {
            "recall": round(hit / support, 3),
            "precision": round(hit / said, 3) if said else None,
            "support": support,
        }
    out["flags"] = flags
    return out


def _gold(examples: Sequence[Example]) -> Labels:
    return Labels(
        [e.priority.value for e in examples],
        [e.intent.value for e in examples],
        [
            {f.value for f in e.flags} | ({"welsh_language"} if e.language == "cy" else set())
            for e in examples
        ],
    )


def _scored(scorer: Scorer, examples: Sequence[Example]) -> Labels:
    out = scorer.score_batch([ScoreInput(e.text) for e in examples])
    return Labels(
        [t.priority.value for t in out],
        [t.intent.value for t in out],
        [{f.value for f in t.flags} for t in out],
    )


def _model_only(model: TriageModel, examples: Sequence[Example]) -> Labels:
    preds = model.predict([e.text for e in examples])
    return Labels(
        [p.top_priority[0].value for p in preds],
        [p.top_intent[0].value for p in preds],
        [{f.value for f, q in p.flags.items() if q >= 0.5} for p in preds],
    )


def evaluate(model: TriageModel, held_out: Sequence[Example]) -> dict[str, Any]:
    """Figures per layer and per language."""
    gold = _gold(held_out)
    layers = {
        "rules": _scored(Scorer(None), held_out),
        "classifier": _model_only(model, held_out),
        "combined": _scored(Scorer(model), held_out),
    }
    report: dict[str, Any] = {
        "model_version": Scorer(model).version,
        "p1_threshold": model.p1_threshold,
        "trained_on": model.trained_on,
        "held_out": len(held_out),
    }
    for name, pred in layers.items():
        section: dict[str, Any] = {"all": _metrics(gold, pred)}
        for lang in ("en", "cy"):
            idx = [i for i, e in enumerate(held_out) if e.language == lang]
            section[lang] = _metrics(_subset(gold, idx), _subset(pred, idx))
        report[name] = section
    combined = report["combined"]
    en_f1 = combined["en"].get("intent_macro_f1") or 0.0
    cy_f1 = combined["cy"].get("intent_macro_f1") or 0.0
    report["welsh_gap_macro_f1"] = round(en_f1 - cy_f1, 4)
    return report


def _subset(labels: Labels, idx: Sequence[int]) -> Labels:
    return Labels(
        [labels.priority[i] for i in idx],
        [labels.intent[i] for i in idx],
        [labels.flags[i] for i in idx],
    )


def _f(v: object) -> str:
    return "  -  " if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render(report: dict[str, Any]) -> str:
    """The evaluation as an operator or reviewer reads it."""
    lines = [
        f"model {report['model_version']}  (P1 threshold {report['p1_threshold']}, "
        f"trained on {report['trained_on']['examples']} examples: "
        f"{report['trained_on'].get('real', 0)} real messages, "
        f"{_n(report['trained_on']['corrections'], 'operator correction')})",
        f"held-out split: {report['held_out']} examples never seen in training",
        "",
        "layer        lang  n     P1 recall  P1 precision  grade acc  intent macro-F1",
    ]
    for layer in ("rules", "classifier", "combined"):
        for lang in ("all", "en", "cy"):
            m = report[layer][lang]
            if not m.get("n"):
                continue
            lines.append(
                f"{layer:<12} {lang:<5} {m['n']:<5} {_f(m['p1_recall']):<10} "
                f"{_f(m['p1_precision']):<13} {_f(m['grade_accuracy']):<10} "
                f"{_f(m['intent_macro_f1'])}"
            )
    c = report["combined"]["all"]
    lines += ["", "grade confusion (combined; rows = truth, columns = predicted)"]
    lines.append("       " + "".join(f"{g:>6}" for g in GRADES))
    for g, row in zip(GRADES, c["grade_confusion"], strict=True):
        lines.append(f"  {g:<5}" + "".join(f"{v:>6}" for v in row))
    lines += ["", "intent (combined)       precision  recall   F1     support"]
    for name, m in c["intents"].items():
        lines.append(
            f"  {name:<20} {m['precision']:<10.3f} {m['recall']:<8.3f} {m['f1']:<6.3f} "
            f"{m['support']}"
        )
    lines += ["", "flags (combined)        recall  precision  support"]
    for name, m in c["flags"].items():
        lines.append(f"  {name:<20}  {_f(m['recall']):<7} {_f(m['precision']):<10} {m['support']}")
    lines += [
        "",
        f"Welsh vs English intent macro-F1 gap: {report['welsh_gap_macro_f1']:+.3f} "
        "(English minus Welsh; floor: at most 0.05)",
    ]
    return "\n".join(lines)


# -- generalisation: slices written separately, real text ---------------------------

SLICE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("mentions-emergency", "mentions-everyday", "mentions-welsh-b"),
    ("mentions-informal", "mentions-priority", "mentions-welsh-a", "mentions-everyday-c"),
    ("mentions-everyday-f", "mentions-hard-g", "mentions-welsh-e"),
    ("mentions-everyday-d", "mentions-mixed-e", "mentions-welsh-c", "mentions-welsh-d"),
)
"""Files written together are tested together: each group is graded by a model trained
on the other groups' files (and the real-text training half), so no line is scored by
a model that saw the way its own slice was written. Welsh is split across the groups, so
each Welsh slice is graded by a model that saw less Welsh."""


def slice_predictions(
    data_dir: Path,
    extra_train: Sequence[Example],
    groups: Sequence[Sequence[str]] = SLICE_GROUPS,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Example], list[Triage]]:
    """Every shipped line graded by a model that never saw its file's group."""
    from socialdesk_triage.dataset import load_jsonl
    from socialdesk_triage.model import train

    files = {p.stem: p for p in sorted(data_dir.glob("mentions-*.jsonl"))}
    named = {name for group in groups for name in group}
    missing = sorted(set(files) - named)
    if missing:
        raise ValueError(f"files in no slice group: {', '.join(missing)}")
    examples: list[Example] = []
    graded: list[Triage] = []
    for n, group in enumerate(groups, 1):
        test = [ex for name in group if name in files for ex in load_jsonl(files[name])]
        train_on = [
            ex for name, path in files.items() if name not in group for ex in load_jsonl(path)
        ]
        if progress:
            progress(f"slice {n}/{len(groups)}: training on {len(train_on)} lines")
        model = train([*train_on, *extra_train])
        if progress:
            progress(f"slice {n}/{len(groups)}: P1 threshold {model.p1_threshold}")
        examples.extend(test)
        graded.extend(Scorer(model).score_batch([ScoreInput(e.text) for e in test]))
    return examples, graded


def _labels(out: Sequence[Triage]) -> Labels:
    return Labels(
        [t.priority.value for t in out],
        [t.intent.value for t in out],
        [{f.value for f in t.flags} for t in out],
    )


def by_language(examples: Sequence[Example], graded: Sequence[Triage]) -> dict[str, Any]:
    """Metrics over all, English and Welsh lines."""
    gold, pred = _gold(examples), _labels(graded)
    out = {"all": _metrics(gold, pred)}
    for lang in ("en", "cy"):
        idx = [i for i, e in enumerate(examples) if e.language == lang]
        if idx:
            out[lang] = _metrics(_subset(gold, idx), _subset(pred, idx))
    return out


def generalisation(
    model: TriageModel,
    sets: Mapping[str, Sequence[Example]],
    slices: tuple[Sequence[Example], Sequence[Triage]] | None = None,
) -> dict[str, Any]:
    """The figures on text the model's authors did not write, set by set."""
    scorer = Scorer(model)
    report: dict[str, Any] = {}
    if slices is not None:
        report["slice split"] = by_language(*slices)
    for name, examples in sets.items():
        if examples:
            graded = scorer.score_batch([ScoreInput(e.text) for e in examples])
            report[name] = by_language(examples, graded)
    return report


def render_generalisation(report: dict[str, Any]) -> str:
    lines = [
        "generalisation: text the model never saw, written elsewhere",
        "set           lang  n     P1 rec  P1 prec  P1|P2 rec  P1->P3/4  P3/4 raised  intent F1",
    ]
    for name, section in report.items():
        for lang in ("all", "en", "cy"):
            m = section.get(lang)
            if not m or not m.get("n"):
                continue
            lines.append(
                f"{name:<13} {lang:<5} {m['n']:<5} {_f(m['p1_recall']):<7} "
                f"{_f(m['p1_precision']):<8} {_f(m['p1p2_recall']):<10} "
                f"{m['p1_graded_low']:<9} {_f(m['low_raised']):<12} {_f(m['intent_macro_f1'])}"
            )
    return "\n".join(lines)

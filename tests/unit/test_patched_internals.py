"""The code reaches into its libraries' internals in three places; when an upgrade moves
one, these tests fail loudly instead of the code quietly losing what the patch gave it
(pyproject.toml bounds aiokafka and scikit-learn to the lines checked here).

- socialdesk.kafka.aiokafka_patches.pace_fetches wraps Fetcher._proc_fetch_request;
- socialdesk.kafka.aiokafka_patches.fast_gzip replaces aiokafka's gzip encoder (C and
  Python builders);
- socialdesk_triage.heads reads a CalibratedClassifierCV's fitted calibrators.

The aiokafka patches are applied by the client factories, never as a side effect of
building client options."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from socialdesk.kafka import aiokafka_patches, client
from socialdesk.settings import BaseServiceSettings


def test_fetcher_proc_fetch_request_is_still_there_and_wrapped() -> None:
    from aiokafka.consumer.fetcher import Fetcher

    original = inspect.getattr_static(Fetcher, "_proc_fetch_request")
    if getattr(Fetcher, "_socialdesk_paced", False):
        # already wrapped in this process: the wrapper kept aiokafka's signature
        params = list(inspect.signature(original).parameters)
    else:
        assert inspect.iscoroutinefunction(original), "aiokafka changed _proc_fetch_request"
        params = list(inspect.signature(original).parameters)
        # the call site in Fetcher._fetch_requests_routine passes exactly these
        assert params == ["self", "assignment", "node_id", "request"], params
        aiokafka_patches.pace_fetches(20, 10)
    assert Fetcher._socialdesk_paced is True
    wrapped = inspect.getattr_static(Fetcher, "_proc_fetch_request")
    assert wrapped.__qualname__.startswith("pace_fetches"), wrapped
    assert params == ["self", "assignment", "node_id", "request"], params
    src = inspect.getsource(Fetcher)
    assert "self._proc_fetch_request(assignment, node_id, request)" in src


async def test_the_client_factories_apply_the_patches_and_options_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[BaseServiceSettings] = []
    monkeypatch.setattr(aiokafka_patches, "apply", calls.append)
    settings = BaseServiceSettings()
    client.common_client_options(settings)
    client.sync_client_options(settings)
    assert calls == []
    consumer = client.make_consumer(settings, group_id=None)
    producer = client.make_producer(settings, "test")
    assert calls == [settings, settings]
    await consumer.stop()
    await producer.stop()


def test_apply_installs_both_patches() -> None:
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.record import default_records as pyrecords
    from aiokafka.record._crecords import default_records as crecords

    aiokafka_patches.apply(BaseServiceSettings())
    assert Fetcher._socialdesk_paced is True
    for module in (crecords, pyrecords):
        assert module.gzip_encode.__qualname__.startswith("fast_gzip"), module


def _gzip_member_flags(batch: bytes) -> tuple[int, int]:
    """(XFL, MTIME) of the gzip stream inside a record batch: XFL 4 means level 1
    (fastest), 2 means level 9, as CPython's gzip writes them."""
    at = bytes(batch).find(b"\x1f\x8b\x08")
    assert at >= 0, "no gzip stream in the batch"
    member = bytes(batch)[at:]
    return member[8], int.from_bytes(member[4:8], "little")


@pytest.mark.parametrize("impl", ["c", "python"])
def test_gzip_batches_are_compressed_at_level_one(impl: str) -> None:
    from aiokafka.record import default_records as pyrecords
    from aiokafka.record._crecords import default_records as crecords

    module: Any = crecords if impl == "c" else pyrecords
    assert module.gzip_encode is not None, f"aiokafka's {impl} records lost gzip_encode"
    aiokafka_patches.fast_gzip()
    assert module.gzip_encode.__qualname__.startswith("fast_gzip"), module.gzip_encode
    cls = (
        crecords.DefaultRecordBatchBuilder
        if impl == "c"
        else pyrecords._DefaultRecordBatchBuilderPy
    )
    builder = cls(
        magic=2,
        compression_type=1,  # gzip
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i in range(50):
        builder.append(
            i, timestamp=None, key=b"k%d" % i, value=b'{"text": "hello"}' * 20, headers=[]
        )
    xfl, mtime = _gzip_member_flags(builder.build())
    assert (xfl, mtime) == (4, 0), "the level-1 gzip encoder is not the one aiokafka used"


def test_calibrated_heads_still_expose_what_heads_reads() -> None:
    """heads.LinearSigmoidHead reads calibrated_classifiers_[i].estimator.coef_/intercept_/
    classes_ and .calibrators[j].a_/b_; if scikit-learn renames them the fast path is
    dropped without a word (heads._fits), so assert it is taken and agrees."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    from socialdesk_triage import heads

    rng = np.random.default_rng(7)
    x = rng.normal(size=(120, 5))
    for n_classes in (2, 3):
        y = (x[:, 0] * 2 + x[:, 1] > 0).astype(int) + (x[:, 2] > 1) * (n_classes - 2)
        clf = CalibratedClassifierCV(LinearSVC(dual="auto"), method="sigmoid", cv=3)
        clf.fit(x, y)
        cc = clf.calibrated_classifiers_
        assert cc and all(hasattr(c, "estimator") and hasattr(c, "calibrators") for c in cc)
        assert all(hasattr(cal, "a_") and hasattr(cal, "b_") for c in cc for cal in c.calibrators)
        assert heads._fits(clf), "heads would fall back to scikit-learn's slow path"
        h = heads.head(clf)
        assert isinstance(h, heads.LinearSigmoidHead)
        margins, proba = h.scores(x)
        np.testing.assert_allclose(proba, clf.predict_proba(x), rtol=1e-9, atol=1e-12)
        first = cc[0].estimator.decision_function(x)
        np.testing.assert_allclose(margins, first, rtol=1e-9, atol=1e-12)


def test_an_idle_consumer_fetches_less_and_less_often_and_a_busy_one_at_once() -> None:
    wait = aiokafka_patches.empty_wait_s
    assert [wait(0.02, 0.5, n) for n in range(1, 7)] == [0.02, 0.04, 0.08, 0.16, 0.32, 0.5]
    assert wait(0.02, 0.5, 10_000) == 0.5  # idle for hours: twice a second
    assert wait(0.02, 0.0, 5) == 0.02  # widening off: the plain empty-fetch wait
    assert BaseServiceSettings().kafka_idle_fetch_wait_ms == 0  # opt-in: P1 latency first

"""What a remote executor tells the user about a trial whose worker was lost: the retry, and
when the resent trial is then cancelled as overdue, the loss that caused the resend."""

from __future__ import annotations

import assay.search.executors.base as base
from assay.search.executors.base import RemoteExecutor, WorkerLost
from assay.search.trial import TrialSpec


class _LosesFirstAttemptThenHangs(RemoteExecutor):
    """The first attempt's worker dies at once; the resent attempt never finishes (it went to a
    node the scheduler still thought alive)."""

    name = "fake"

    def __init__(self):
        super().__init__()
        self.launched = 0
        self.cancelled = []

    def _launch(self, spec, seconds, earlier):
        self.launched += 1
        return f"attempt-{self.launched}"

    def _wait(self, handles, timeout):
        return [(h, WorkerLost("NodeDiedError: the node is dead")) for h in handles if h == "attempt-1"]

    def _cancel(self, handle):
        self.cancelled.append(handle)


def test_a_resent_trial_cancelled_as_overdue_keeps_the_loss_that_resent_it(monkeypatch):
    monkeypatch.setattr(base, "GRACE", 0.0)
    executor = _LosesFirstAttemptThenHangs()
    spec = TrialSpec(trial_id=0, family="lightgbm", params={}, seed=0, origin="portfolio")
    executor.submit(spec, 1.5, lambda errors: False)
    outputs = []
    while not outputs:
        outputs = executor.collect(timeout=0.5)
    assert executor.launched == 2 and executor.cancelled == ["attempt-2"]
    result = outputs[0].result
    assert result.status == "failed"
    assert result.message.startswith("cancelled: unfinished")
    assert "retried after: attempt 1: NodeDiedError: the node is dead" in result.message
    assert result.extra["attempts"] == 2
    notes = " ".join(executor.notes())
    assert "1 trial(s) retried: lightgbm#0" in notes and "1 trial(s) failed: lightgbm#0" in notes

"""The retraining scheduler driven by an injected clock: due times from cron, no overlapping runs,
a failing run recorded while the schedule goes on, a prompt stop."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from assay.errors import ConfigError
from assay.monitor.schedule import RetrainScheduler
from assay.registry import Decision, Registry

START = dt.datetime(2026, 3, 1, 0, 0, 30, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0


class FakeTime:
    """A clock that moves only when slept on (or when a job says time passed)."""

    def __init__(self, start: float):
        self.now = start
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        time.sleep(0.0005)  # let the test thread in


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_due_times_follow_the_cron_expression():
    daily = RetrainScheduler("0 3 * * *", ["m"], tz="UTC")
    assert daily.due_after(START) == dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC).timestamp()
    assert daily.due_after(daily.due_after(START)) == dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC).timestamp()
    weekdays = RetrainScheduler("30 6 * * 1-5", ["m"], tz="Europe/Paris")  # 1 March 2026 is a Sunday
    assert dt.datetime.fromtimestamp(weekdays.due_after(START), dt.UTC) == dt.datetime(2026, 3, 2, 5, 30, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match="not a cron expression"):
        RetrainScheduler("every night", ["m"])
    with pytest.raises(ConfigError, match="unknown time zone"):
        RetrainScheduler("0 3 * * *", ["m"], tz="Mars/Olympus")


def test_runs_at_each_due_time_with_the_retrain_options():
    fake = FakeTime(START)
    calls = []

    def job(name, *, registry, **options):
        calls.append((name, fake.clock(), options))
        return Decision(name, "kept", "no better", champion_version=1)

    scheduler = RetrainScheduler(
        "0 * * * *", lambda: ["a", "b"], "registry", tz="UTC", clock=fake.clock, sleep=fake.sleep, job=job, alpha=0.01
    )
    scheduler.start()
    wait_until(lambda: len(calls) >= 6)
    assert scheduler.stop()
    hours = [(name, (t - START + 30) / HOUR) for name, t, _ in calls[:6]]
    assert hours == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3), ("b", 3)]
    assert all(options == {"alpha": 0.01} for *_, options in calls)
    assert [r.action for r in list(scheduler.history)[:6]] == ["kept"] * 6 and scheduler.skipped == 0


def test_a_long_run_skips_the_due_times_it_overran_instead_of_running_twice():
    fake = FakeTime(START)
    starts, running, overlaps = [], threading.Event(), []

    def slow_job(name, *, registry, **options):
        if running.is_set():
            overlaps.append(fake.clock())
        running.set()
        starts.append(fake.clock())
        fake.advance(2.5 * HOUR)  # this run takes two and a half hours
        running.clear()
        return Decision(name, "kept", "-")

    scheduler = RetrainScheduler("0 * * * *", ["m"], tz="UTC", clock=fake.clock, sleep=fake.sleep, job=slow_job)
    scheduler.start()
    wait_until(lambda: len(starts) >= 3)
    scheduler.stop()
    hours = [round((t - START + 30) / HOUR, 2) for t in starts[:3]]
    assert hours == [1.0, 4.0, 7.0]  # 01:00 ends 03:30; 02:00 and 03:00 were skipped, not queued
    assert scheduler.skipped >= 4 and not overlaps


def test_a_manual_run_while_one_is_going_does_not_start_a_second():
    release, entered, calls = threading.Event(), threading.Event(), []

    def blocking_job(name, *, registry, **options):
        calls.append(name)
        entered.set()
        release.wait(5)
        return Decision(name, "kept", "-")

    scheduler = RetrainScheduler("0 3 * * *", ["m"], job=blocking_job)
    first = threading.Thread(target=scheduler.run_now)
    first.start()
    assert entered.wait(5)
    assert scheduler.run_now() == []  # refused at once, not queued
    release.set()
    first.join(5)
    assert calls == ["m"] and scheduler.completed == 1


def test_a_failing_run_is_recorded_and_the_schedule_goes_on(model_dir, tmp_path):
    fake = FakeTime(START)
    calls = []

    def flaky_job(name, *, registry, **options):
        calls.append(fake.clock())
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return Decision(name, "kept", "fine again", champion_version=1)

    with Registry(home=tmp_path / "home") as reg:
        reg.register(model_dir, "m")
        reg.promote("m", 1)
        scheduler = RetrainScheduler(
            "0 * * * *", ["m"], reg, tz="UTC", clock=fake.clock, sleep=fake.sleep, job=flaky_job
        )
        scheduler.start()
        wait_until(lambda: len(calls) >= 2)
        assert scheduler.stop()
        first, second = list(scheduler.history)[:2]
        assert first.action == "failed" and "disk full" in first.error and second.action == "kept"
        recorded = reg.decisions("m")[0]
        assert recorded.action == "failed" and "RuntimeError: disk full" in recorded.reason
        assert recorded.champion_version == 1 and "Traceback" in recorded.details["traceback"]
        assert reg.production("m").version == 1


def test_stop_is_prompt_with_the_real_clock():
    scheduler = RetrainScheduler("0 3 * * *", ["m"], job=lambda name, **kw: None).start()
    time.sleep(0.05)
    assert scheduler.running and scheduler.next_due > time.time()
    started = time.monotonic()
    assert scheduler.stop(timeout=5)
    assert time.monotonic() - started < 1.0 and not scheduler.running

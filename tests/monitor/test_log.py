"""The prediction log on SQLite and PostgreSQL: record, feedback, windows, sampling, concurrent
writers, and no row lost at close."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd
import pytest

from assay.errors import ConfigError
from assay.monitor.log import PredictionLog, UnknownRequestError, parse_when
from tests.conftest import make_frame


def _inputs(n: int, seed: int = 0) -> pd.DataFrame:
    return make_frame(n, seed=seed).drop(columns="y")


def test_record_feedback_and_window(log_url):
    with PredictionLog(log_url) as log:
        X = _inputs(5)
        probs = pd.DataFrame({"no": [0.9, 0.2, 0.6, 0.1, 0.5], "yes": [0.1, 0.8, 0.4, 0.9, 0.5]})
        rid = log.record("churn", 3, X, ["no", "yes", "no", "yes", "no"], probs)
        other = log.record("churn", 3, X.iloc[:2], ["yes", "yes"], request_id="client-42", source="csv")
        assert other == "client-42" and rid != other
        assert log.feedback("churn", rid, ["no", "yes", "yes", "yes", "no"]) == 5
        assert log.feedback("churn", "client-42", "no", rows=1) == 1
        window = log.window("churn")
    assert len(window) == 7 and window.attrs["inputs"] == list(X.columns)
    first = window[window["request_id"] == rid].sort_values("row")
    assert list(first["row"]) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(first["a"], X["a"])  # inputs come back as columns, exactly
    assert first["b"].isna().sum() == X["b"].isna().sum()
    assert list(first["colour"]) == list(X["colour"])
    assert list(first["prediction"]) == ["no", "yes", "no", "yes", "no"]
    assert list(first["label"]) == ["no", "yes", "yes", "yes", "no"]
    np.testing.assert_allclose(first["proba_yes"], probs["yes"])
    assert set(first["version"]) == {"3"} and set(first["source"]) == {"api"}
    second = window[window["request_id"] == "client-42"].sort_values("row")
    assert list(second["label"].isna()) == [True, False] and set(second["source"]) == {"csv"}
    assert str(window["timestamp"].dt.tz) == "UTC"


def test_feedback_errors_name_the_request_and_row(log_url):
    with PredictionLog(log_url) as log:
        rid = log.record("churn", 1, _inputs(3), ["a", "b", "c"])
        with pytest.raises(UnknownRequestError, match="'no-such-id'"):
            log.feedback("churn", "no-such-id", ["a"])
        with pytest.raises(UnknownRequestError):
            log.feedback("other-model", rid, ["a", "b", "c"])  # the id belongs to another model
        with pytest.raises(ConfigError, match="row 7 does not exist"):
            log.feedback("churn", rid, ["a"], rows=[7])
        with pytest.raises(ConfigError, match="2 label"):
            log.feedback("churn", rid, ["a", "b"], rows=[0])
        assert log.labelled("churn").empty  # all or nothing: no label was written


def test_feedback_sent_again_overwrites_and_is_counted(log_url):
    with PredictionLog(log_url) as log:
        rid = log.record("m", None, _inputs(2), [1.0, 2.0])
        log.feedback("m", rid, [1.5, 2.5])
        log.feedback("m", rid, [9.0], rows=[1])
        window = log.window("m").sort_values("row")
    assert list(window["label"]) == [1.5, 9.0]
    assert list(window["label_updates"]) == [1, 2]


def test_window_filters(log_url):
    with PredictionLog(log_url) as log:
        old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for day in range(5):
            log.record("m", day % 2, _inputs(2, seed=day), [0, 1], timestamp=old + dt.timedelta(days=day))
        rid = log.window("m")["request_id"].iloc[-1]
        log.feedback("m", rid, [0, 1])
        assert len(log.window("m")) == 10
        assert len(log.window("m", since="2026-01-03")) == 6
        assert len(log.window("m", since="2026-01-02", until="2026-01-04")) == 4
        assert len(log.window("m", version=1)) == 4
        last = log.window("m", limit=3)
        assert len(last) == 3 and last["timestamp"].is_monotonic_increasing
        assert last["timestamp"].min() >= pd.Timestamp("2026-01-04", tz="UTC")
        assert len(log.labelled("m")) == 2
        assert log.window("nobody").empty


def test_sampling_is_per_request_and_deterministic_given_the_seed(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ids = [f"req-{i}" for i in range(2000)]
    with PredictionLog(url, sample_rate=0.3, seed=7) as a, PredictionLog(url, sample_rate=0.3, seed=7) as b:
        kept = [a.sampled(i) for i in ids]
        assert kept == [b.sampled(i) for i in ids]  # another process, the same seed: the same requests
        assert 0.27 < np.mean(kept) < 0.33
        with PredictionLog(url, sample_rate=0.3, seed=8) as c:
            assert kept != [c.sampled(i) for i in ids]
        X = _inputs(3)
        for i in ids[:40]:
            a.record("m", 1, X, [0, 1, 0], request_id=i)
        assert a.count("m") == 3 * sum(kept[:40])  # a request's rows are kept or dropped together
        dropped = ids[kept.index(False)]
        assert a.feedback("m", dropped, [0, 1, 0]) == 0  # sampled out: ignored, not an error
        never_sent = ids[40 + kept[40:].index(True)]  # would have been kept, but was never recorded
        with pytest.raises(UnknownRequestError):
            a.feedback("m", never_sent, [0])
    with PredictionLog(url, sample_rate=0.0) as none:
        none.record("n", 1, _inputs(2), [0, 1])
        assert none.count("n") == 0
    with pytest.raises(ConfigError, match="sample_rate"):
        PredictionLog(url, sample_rate=1.5)


def test_concurrent_writers_lose_nothing(log_url):
    """Eight server threads on one log, plus a second log (another process's) writing at once."""
    X = _inputs(3)
    with PredictionLog(log_url) as shared, PredictionLog(log_url) as second:

        def write(log, k):
            for i in range(40):
                log.record("m", 1, X, [k, i, 0], request_id=f"t{k}-{i}")

        threads = [threading.Thread(target=write, args=(shared, k)) for k in range(8)]
        threads.append(threading.Thread(target=write, args=(second, 8)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        second.flush()
        window = shared.window("m")
    assert len(window) == 9 * 40 * 3
    assert not window.duplicated(["request_id", "row"]).any()


def test_close_flushes_every_queued_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    log = PredictionLog(url)
    X = _inputs(10)
    for _ in range(200):
        log.record("m", 1, X, list(range(10)))
    log.close()  # straight after queueing: the writer still has most of it
    with PredictionLog(url) as again:
        assert again.count("m") == 2000
    with pytest.raises(ConfigError, match="closed"):
        log.record("m", 1, X, list(range(10)))


def test_bad_input_is_a_user_error(tmp_path):
    with PredictionLog(f"sqlite:///{tmp_path / 'r.db'}") as log:
        with pytest.raises(ConfigError, match="2 prediction"):
            log.record("m", 1, _inputs(3), [0, 1])
        with pytest.raises(ConfigError, match="model name"):
            log.record("", 1, _inputs(1), [0])
        with pytest.raises(ConfigError, match="cannot read"):
            log.window("m", since="yesterday-ish")


def test_parse_when_reads_iso_times_and_ages():
    assert parse_when("2026-11-21", "since") == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    assert parse_when("2026-11-21T10:00+02:00", "since") == dt.datetime(2026, 11, 21, 8, tzinfo=dt.UTC)
    age = dt.datetime.now(dt.UTC) - parse_when("24h", "since")
    assert abs(age.total_seconds() - 86_400) < 5


def test_logged_rows_are_what_pandas_json_writer_gives():
    """The column-by-column fast path of the log equals pandas' to_json for the kinds it takes,
    and a frame with another kind (dates) still goes through to_json."""
    import json

    import numpy as np
    import pandas as pd

    from assay.monitor.log import _json_records

    frame = pd.DataFrame(
        {
            "a": [1.5, np.nan, np.inf, -np.inf],
            "b": [1, 2, 3, 4],
            "c": ["x", None, "z", "w"],
            "d": [True, False, True, False],
            "e": pd.array(["p", pd.NA, "q", "r"], dtype="string"),
            7: pd.Series(["s", np.nan, "t", "u"], dtype=object),
        }
    )

    def reference(f):
        return json.loads(f.to_json(orient="records", date_format="iso", default_handler=str, double_precision=15))

    assert _json_records(frame) == reference(frame)
    dated = frame.assign(when=pd.to_datetime(["2024-01-02", None, "2024-03-04", "2024-05-06"]))
    assert _json_records(dated) == reference(dated)
    assert _json_records(frame.iloc[:, :0]) == [{}, {}, {}, {}]

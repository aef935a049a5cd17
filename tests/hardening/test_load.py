"""The server under concurrent predict + feedback traffic while a new version is promoted (the
CI-sized run of bench/load.py: the real `assay serve` in a subprocess, 4 clients, ~8 s):
no failed request, no lost row, and the promoted version answers once it is picked up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_promotion_during_traffic_loses_nothing(tmp_path):
    bench = _load_bench()
    result = bench.run(seconds=8, clients=4, promote_at=0.3, feedback_share=0.7, reload_seconds=0.5)
    bench.write(result, tmp_path / "load")  # the report renders from real figures
    requests, rows, promotion = result["requests"], result["rows"], result["promotion"]

    assert requests["failed"] == 0, requests["first_failures"]
    assert requests["predict"]["succeeded"] > 20 and requests["feedback"]["succeeded"] > 5, requests
    assert rows["prediction_rows_lost"] == 0 and rows["predicted_rows_logged"] == rows["predicted_rows_answered"]
    assert rows["feedback_rows_lost"] == 0 and rows["feedback_labels_stored"] == rows["feedback_labels_accepted"] > 0
    assert promotion["cli_exit_code"] == 0, promotion["cli_output"]
    assert set(promotion["versions_before"]) == {"1"}, promotion
    assert set(promotion["versions_after"]) == {"2"} and promotion["versions_after"]["2"] > 0, promotion
    assert promotion["pickup_s"] is not None and promotion["pickup_s"] < 10, promotion
    assert result["server"] == {**result["server"], "exit_code": 0, "error_lines": 0}
    assert "PASS" in (tmp_path / "load.md").read_text()

"""`bench/run_all.py --update`: re-run scenarios replace their own rows in the report, and only theirs."""

from bench.run_all import merged, write_report


def _row(scenario: str, figure: float) -> dict:
    return {"scenario": scenario, "name": f"{scenario} figure", "figure": figure, "baseline": 1.0, "unit": "x/s",
            "ratio": figure, "target": None, "peak_rss_mb": None, "baseline_label": "b", "extra": {}}


def _run(started: str, scenarios: dict[str, float]) -> dict:
    return {"command": "bench/run_all.py", "kind": "full", "scale": 1, "started": started, "machine": "m",
            "load_before": 1.0, "load_after": 2.0, "seconds": 60.0,
            "scenarios": [{"name": n, "exit": 0, "seconds": 30.0, "argv": [], "started": started} for n in scenarios],
            "results": [_row(n, f) for n, f in scenarios.items()]}


def test_a_rerun_replaces_its_scenarios_rows_and_keeps_the_others(tmp_path):
    previous = _run("2026-11-28 23:00 UTC", {"release": 1.0, "batch": 2.0, "load": 3.0})
    rerun = _run("2026-11-29 07:30 UTC", {"load": 4.0, "queries": 5.0})
    run = merged(previous, rerun)
    assert [(r["scenario"], r["figure"]) for r in run["results"]] == [
        ("release", 1.0), ("batch", 2.0), ("queries", 5.0), ("load", 4.0)]  # in the scenarios' own order
    assert {s["name"]: s["started"] for s in run["scenarios"]}["load"] == "2026-11-29 07:30 UTC"
    assert run["started"] == "2026-11-28 23:00 UTC" and run["updates"][0]["scenarios"] == ["load", "queries"]
    write_report(run, tmp_path / "REPORT.md")
    report = (tmp_path / "REPORT.md").read_text()
    assert "Re-run since, replacing their rows: load, queries" in report
    assert "| load | 0 | 0.5 | 2026-11-29 07:30 UTC |" in report
    assert "| release | 0 | 0.5 | 2026-11-28 23:00 UTC |" in report

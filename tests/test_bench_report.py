"""bench/report.py: the comparison table's ratios, from alternated runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPORT = Path(__file__).resolve().parents[1] / "bench" / "report.py"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row(server: str, label: str, rps: float, cpu: float) -> list[str]:
    # scenario, workers, server, label, req/s, p50 us, p99 us, server CPU %, wrk CPU %,
    # other CPU %, non-2xx, bad bodies, socket errors: the columns run.sh writes.
    timings, counts = ["2000", "9000", str(cpu), "60", "1"], ["0", "0", "0"]
    return ["cc_jwt", "1", server, label, str(rps), *timings, *counts]


def _cells(table: list[str]) -> dict[str, str]:
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    values = [cell.strip() for cell in table[2].strip("|").split("|")]
    return dict(zip(header, values, strict=True))


def test_the_table_gives_the_median_ratio_the_range_of_pairs_and_the_ratio_per_core(
    report: ModuleType,
) -> None:
    rows = [
        _row("tokensmith", "run1", 6000, 100),
        _row("node", "run1", 4000, 125),
        _row("tokensmith", "run2", 5000, 100),
        _row("node", "run2", 5000, 125),
        _row("tokensmith", "run3", 5500, 100),
        _row("node", "run3", 4400, 125),
    ]
    cells = _cells(report.comparison_table(rows))
    assert cells["tokensmith req/s"] == "5500"
    assert cells["oidc-provider req/s"] == "4400"
    assert cells["ratio"] == "1.25"  # 5,500 / 4,400
    assert cells["pairs"] == "1.00-1.50"  # run2: 5,000 / 5,000; run1: 6,000 / 4,000
    # 5,500 per core against 4,400 / 1.25 = 3,520 per core.
    assert cells["per core"] == "1.56"


def test_a_run_the_other_server_lacks_makes_no_pair(report: ModuleType) -> None:
    rows = [
        _row("tokensmith", "run1", 6000, 100),
        _row("node", "run1", 5000, 100),
        _row("tokensmith", "run2", 9000, 100),  # node's run2 is missing
    ]
    assert _cells(report.comparison_table(rows))["pairs"] == "1.20-1.20"


def test_one_server_alone_has_no_ratios(report: ModuleType) -> None:
    cells = _cells(report.comparison_table([_row("tokensmith", "run1", 6000, 100)]))
    assert (cells["ratio"], cells["pairs"], cells["per core"]) == ("-", "-", "-")

"""Turn bench/run.sh's raw rows (runs.tsv, rss.tsv) into the Markdown tables it prints.

Standard library only, so it runs with any python3. Medians over the measured
runs of each server; "ratio" is tokensmith's median req/s over
node-oidc-provider's, from runs taken alternately in the same invocation.

One median ratio hides how far a host's speed drifted during the run (on a
shared 2-vCPU guest both servers' req/s moved by 20-40% within half an hour),
so the table also gives the lowest and highest ratio of the alternated pairs
(tokensmith's run k against node-oidc-provider's run k) and the ratio per core:
req/s per core of CPU the server used, which leaves out the share of the second
core that node-oidc-provider's threads take (its signatures go to libuv's pool)
and a Python worker cannot.
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path

COMPARISON_ORDER = [
    "cc_jwt",
    "cc_opaque",
    "introspection",
    "refresh_sqlite",
    "refresh_postgresql",
    "authorization_code",
    "discovery",
    "jwks",
]


def _read(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line.strip()]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(rows: list[list[str]]) -> dict[str, float]:
    return {
        "rps": _median([float(r[4]) for r in rows]),
        "p50": _median([int(r[5]) / 1000 for r in rows]),
        "p99": _median([int(r[6]) / 1000 for r in rows]),
        "cpu": _median([float(r[7]) for r in rows]),
        "other": max(float(r[9]) for r in rows),
        "failed": sum(int(r[10]) + int(r[11]) + int(r[12]) for r in rows),
        "runs": len(rows),
    }


def _pair_ratios(tokensmith: list[list[str]], node: list[list[str]]) -> list[float]:
    """tokensmith's req/s over node-oidc-provider's for each run label both have."""
    node_rps = {row[3]: float(row[4]) for row in node}
    return [float(row[4]) / node_rps[row[3]] for row in tokensmith if node_rps.get(row[3], 0) > 0]


def _per_core(summary: dict[str, float]) -> float:
    return summary["rps"] / (summary["cpu"] / 100) if summary["cpu"] > 0 else float("nan")


def comparison_table(rows: list[list[str]]) -> list[str]:
    groups: dict[tuple[str, str, str], list[list[str]]] = defaultdict(list)
    for row in rows:
        if row[0] in COMPARISON_ORDER:
            groups[(row[0], row[1], row[2])].append(row)
    if not groups:
        return []
    out = [
        "| scenario | workers | tokensmith req/s | p50 ms | p99 ms | CPU % "
        "| oidc-provider req/s | p50 ms | p99 ms | CPU % | ratio | pairs | per core "
        "| failed | other CPU % |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    keys = sorted(
        {(s, w) for s, w, _ in groups},
        key=lambda k: (COMPARISON_ORDER.index(k[0]), int(k[1])),
    )
    for scenario, workers in keys:
        cells = [scenario, workers]
        runs = {
            server: groups.get((scenario, workers, server), []) for server in ("tokensmith", "node")
        }
        summaries = {}
        failed = 0
        other = 0.0
        for server, found in runs.items():
            if not found:
                cells += ["-"] * 4
                continue
            s = _summary(found)
            summaries[server] = s
            failed += int(s["failed"])
            other = max(other, s["other"])
            cells += [f"{s['rps']:.0f}", f"{s['p50']:.1f}", f"{s['p99']:.1f}", f"{s['cpu']:.0f}"]
        pairs = _pair_ratios(runs["tokensmith"], runs["node"])
        if len(summaries) == 2 and summaries["node"]["rps"] > 0:
            ours, theirs = summaries["tokensmith"], summaries["node"]
            cells.append(f"{ours['rps'] / theirs['rps']:.2f}")
            cells.append(f"{min(pairs):.2f}-{max(pairs):.2f}" if pairs else "-")
            cells.append(f"{_per_core(ours) / _per_core(theirs):.2f}")
        else:
            cells += ["-", "-", "-"]
        cells += [str(failed), f"{other:.0f}"]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "req/s, p50, p99 and CPU are medians over the measured runs; CPU is % of one core "
        "for all the server's processes; ratio = tokensmith / oidc-provider req/s; "
        "pairs = the lowest and highest ratio of tokensmith's run k to oidc-provider's run k; "
        "per core = the same ratio of req/s per core of server CPU; "
        "failed = non-2xx + unexpected bodies + socket errors over all runs; other CPU % = "
        "the most that processes other than the servers and wrk used in any run (PostgreSQL "
        "itself counts as other)."
    )
    return out


def scale_table(rows: list[list[str]], results: Path) -> list[str]:
    by_key: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for row in rows:
        if row[0] in ("scale_refresh", "scale_introspection"):
            by_key[(row[0], row[3].split("-")[0])].append(row)
    if not by_key:
        return []
    counts = {
        phase: (results / f"scale_rows_{phase}.txt").read_text().strip()
        if (results / f"scale_rows_{phase}.txt").is_file()
        else "?"
        for phase in ("empty", "full")
    }
    out = [
        "",
        "Scale (tokensmith, PostgreSQL, opaque access tokens): "
        f"grants rows before: {counts['empty']}, after the fill: {counts['full']}"
        + (
            f" ({(results / 'scale_fill.txt').read_text().strip()})"
            if (results / "scale_fill.txt").is_file()
            else ""
        ),
        "",
        "| request | empty req/s | p99 ms | with families req/s | p99 ms | change |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for scenario in ("scale_refresh", "scale_introspection"):
        empty, full = by_key.get((scenario, "empty")), by_key.get((scenario, "full"))
        if not empty or not full:
            continue
        e, f = _summary(empty), _summary(full)
        change = (f["rps"] - e["rps"]) / e["rps"] * 100
        out.append(
            f"| {scenario.removeprefix('scale_')} | {e['rps']:.0f} | {e['p99']:.1f} "
            f"| {f['rps']:.0f} | {f['p99']:.1f} | {change:+.1f}% |"
        )
    return out


def rss_table(results: Path) -> list[str]:
    rows = _read(results / "rss.tsv")
    if not rows:
        return []
    by_pid: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for label, requests, pid, rss in rows:
        by_pid[pid].append((label, int(requests), int(rss)))
    out = ["", "| process | RSS at start (MiB) | after N requests | RSS at end (MiB) | change |"]
    out.append("|---|--:|--:|--:|--:|")
    for pid, samples in by_pid.items():
        start, end = samples[0], samples[-1]
        change = (end[2] - start[2]) / start[2] * 100
        out.append(
            f"| {pid} | {start[2] / 1024:.1f} | {end[1]} | {end[2] / 1024:.1f} | {change:+.1f}% |"
        )
    return out


def main() -> None:
    results = Path(sys.argv[1])
    rows = _read(results / "runs.tsv")
    lines = comparison_table(rows) + scale_table(rows, results) + rss_table(results)
    if lines:
        print("\n".join(lines))


if __name__ == "__main__":
    main()

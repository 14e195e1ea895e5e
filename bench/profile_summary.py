"""Summarise a py-spy ``--format raw`` profile (collapsed stacks) as Markdown.

Three views of the same samples, each in % of the on-CPU samples (py-spy
leaves idle samples out unless ``--idle``):

- where the time goes per request: every sample is charged to the stage
  nearest the leaf that it belongs to (signing, JSON, database, ...), so the
  stages add up to 100%;
- the functions that are on the CPU themselves (self time);
- the functions under which the time is spent (inclusive time).

Standard library only: ``python3 bench/profile_summary.py profile.raw``.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# (stage, pattern on "function (file:line)"), tried from the leaf towards the root.
# The first stage a frame matches gets the sample; put narrow stages first.
STAGES: list[tuple[str, re.Pattern[str]]] = [
    (stage, re.compile(pattern))
    for stage, pattern in [
        (
            "ES256 signing (joserfc + cryptography)",
            r"joserfc/|cryptography/|tokensmith/keys/compact_signing",
        ),
        ("JSON (orjson / json)", r"orjson|/json/|json_response|_rendering\.py"),
        ("logging and audit", r"/logging/|tokensmith/audit\.py"),
        ("metrics (prometheus_client)", r"prometheus_client/|tokensmith/metrics\.py"),
        ("database (SQLAlchemy, drivers)", r"sqlalchemy/|aiosqlite/|asyncpg/|tokensmith/stores/"),
        ("form parsing", r"python_multipart|multipart/|_forms\.py|starlette/formparsers"),
        ("client authentication", r"tokensmith/clientauth/"),
        ("custom-claims hook lookup", r"tokensmith/tokens/(custom_claims|hooks|hook_context)"),
        ("claims, token model, payload", r"tokensmith/(tokens|models)/|tokensmith/scopes"),
        ("grant validation", r"tokensmith/grants/"),
        ("response generator", r"tokensmith/response_generator"),
        ("token endpoint (other)", r"tokensmith/endpoints/"),
        ("key manager", r"tokensmith/keys/"),
        ("other tokensmith code", r"tokensmith/"),
        ("Starlette routing and middleware", r"starlette/"),
        ("HTTP parsing and writing (uvicorn, httptools)", r"uvicorn/|httptools"),
        ("asyncio / uvloop event loop", r"asyncio/|uvloop"),
    ]
]
_LOCATION = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def _name(frame: str) -> str:
    """``function (file)`` without the line number, with site-packages trimmed."""
    match = _LOCATION.match(frame)
    if match is None:
        return frame
    file = re.sub(r"^.*?(site-packages|lib/python3\.\d+|src)/", "", match["file"])
    return f"{match['function']} ({file})"


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, pattern in STAGES:
            if pattern.search(frame):
                return stage
    return "other (interpreter, unknown)"


def summarise(stacks: list[tuple[list[str], int]], top: int = 25) -> str:
    total = sum(count for _, count in stacks) or 1
    stages: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        stages[_stage(frames)] += count
        own[_name(frames[-1])] += count
        for name in {_name(frame) for frame in frames}:
            inclusive[name] += count

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f}"

    lines = [f"{total} on-CPU samples.", "", "| stage | % of CPU |", "|---|--:|"]
    lines += [f"| {stage} | {pct(n)} |" for stage, n in stages.most_common()]
    lines += ["", "| self time: function (file) | % |", "|---|--:|"]
    lines += [f"| `{name}` | {pct(n)} |" for name, n in own.most_common(top)]
    lines += ["", "| inclusive time: function (file) | % |", "|---|--:|"]
    lines += [f"| `{name}` | {pct(n)} |" for name, n in inclusive.most_common(top + 15)]
    return "\n".join(lines)


def main() -> None:
    print(summarise(parse(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()

"""docs/security.md names a test for every checklist row; each named test must exist.

A checklist whose evidence has been renamed or deleted is a claim again, so this
fails when a referenced file or test function disappears.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`")


def references() -> list[tuple[str, str | None]]:
    """(file, test) pairs; a bare ``::name`` belongs to the file named before it on the line."""
    found: list[tuple[str, str | None]] = []
    for line in DOC.read_text().splitlines():
        current: str | None = None
        for match in REFERENCE.finditer(line):
            path, name, bare = match.groups()
            if path is not None:
                current = path
                found.append((path, name))
            else:
                assert current is not None, f"{bare} has no file before it: {line}"
                found.append((current, bare))
    return found


def test_every_checklist_row_names_a_test():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    table_rows = [r for r in rows if not r.startswith("| ---") and "Shown by |" not in r]
    assert len(table_rows) > 30
    for row in table_rows:
        assert "`tests/" in row, f"no test named for: {row}"


def test_every_named_test_exists():
    refs = references()
    assert len(refs) > 40
    for path, name in refs:
        source = (ROOT / path).read_text()
        if name is not None:
            assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), (path, name)

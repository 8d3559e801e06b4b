"""Import problems: where (file, row as a spreadsheet shows it, field) and why; the log that collects them and,
with ``--skip-invalid``, the report file of refused rows."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from betag_engine.errors import ImportValidationError

KEEP_IN_MEMORY = 10_000  # problems kept for the error message and the app; the report file gets every one


@dataclass(frozen=True)
class ImportProblem:
    """One refused row (or a whole file, when ``row`` is None).

    Attributes:
        row: the row as a spreadsheet shows it (the header is row 1, the first data row is row 2); for JSON Lines
            the line number, for a JSON array the record number (``unit`` says which).
    """

    file: str
    row: int | None
    field: str | None
    reason: str
    unit: str = "row"

    def __str__(self) -> str:
        where = self.file + (f", {self.unit} {self.row}" if self.row is not None else "")
        where += f", field {self.field!r}" if self.field else ""
        return f"{where}: {self.reason}"


class ProblemLog:
    """Collects problems while files stream by. Row problems refuse their row; file problems refuse the import.

    With a report path, every problem is also written there (CSV: file, unit, row, field, reason, values)."""

    def __init__(self, report_path: Path | None = None):
        self.kept: list[ImportProblem] = []
        self.total = 0
        self.refused_rows: set[tuple[str, int]] = set()
        self.report_path = report_path
        self._fh = None
        self._writer = None
        if report_path is not None:
            report_path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = report_path.open("w", newline="", encoding="utf-8", errors="backslashreplace")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(["file", "unit", "row", "field", "reason", "values"])

    def add(self, problem: ImportProblem, values: dict[str, Any] | None = None) -> None:
        self.total += 1
        if len(self.kept) < KEEP_IN_MEMORY:
            self.kept.append(problem)
        if problem.row is not None:
            self.refused_rows.add((problem.file, problem.row))
        if self._writer is not None:
            shown = json.dumps(values, default=repr, ensure_ascii=False)[:2000] if values else ""
            self._writer.writerow([problem.file, problem.unit, problem.row or "", problem.field or "",
                                   problem.reason, shown])

    def fail(self, problem: ImportProblem) -> ImportValidationError:
        """Record a problem that refuses the whole import; returns the error to raise."""
        self.add(problem)
        return self.error()

    def error(self) -> ImportValidationError:
        self.close()
        return ImportValidationError(self.kept, total=self.total)

    @property
    def rows_refused(self) -> int:
        return len(self.refused_rows)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._writer = None

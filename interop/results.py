"""What the last tempest run did to each test of the slice: passed, failed (or never ran), skipped."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PASSED = {"success", "xfail"}
SKIPPED = {"skip"}
# "setUpClass (tempest.api.identity.v3.test_tokens.TokensV3Test)": a class fixture that failed
FIXTURE = re.compile(r"^(setUpClass|tearDownClass) \((?P<cls>[\w.]+)\)$")


def base_id(test_id: str) -> str:
    """A test id without its ``[id-…,smoke]`` attributes."""
    return test_id.split("[", 1)[0]


@dataclass
class Outcome:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # also in ``failed``
    errors: list[str] = field(default_factory=list)  # class fixtures that failed

    def summary(self) -> str:
        return f"{len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"

    def report(self) -> list[str]:
        lines = [f"error: {name}" for name in self.errors]
        lines += [f"FAILED: {name}" + (" (did not run)" if name in self.not_run else "") for name in self.failed]
        lines += [f"skipped: {name}" for name in self.skipped]
        return lines


def summarize(tests: list[str], statuses: dict[str, str]) -> Outcome:
    """Classify every test of the slice from the statuses the run reported (test id → subunit status)."""
    by_base = {base_id(test): status for test, status in statuses.items()}
    failed_classes, skipped_classes = set(), set()
    outcome = Outcome()
    for test, status in statuses.items():
        match = FIXTURE.match(test)
        if match is None:
            continue
        if status in SKIPPED and match.group(1) == "setUpClass":  # the whole class skipped (service absent...)
            skipped_classes.add(match.group("cls"))
        elif status not in PASSED | SKIPPED:
            outcome.errors.append(test)
            if match.group(1) == "setUpClass":
                failed_classes.add(match.group("cls"))
    for test in tests:
        status = by_base.get(base_id(test))
        if status is None and base_id(test).rsplit(".", 1)[0] in skipped_classes:
            status = "skip"
        if status in PASSED:
            outcome.passed.append(test)
        elif status in SKIPPED:
            outcome.skipped.append(test)
        else:
            outcome.failed.append(test)
            if status is None and base_id(test).rsplit(".", 1)[0] not in failed_classes:
                outcome.not_run.append(test)
    return outcome


def parse_csv(text: str) -> dict[str, str]:
    """subunit2csv's output (``test,status,start_time,stop_time``) as test id → status."""
    return {row["test"]: row["status"] for row in csv.DictReader(io.StringIO(text)) if row.get("test")}


def runs_so_far(workspace: Path) -> int:
    """How many runs the workspace's stestr repository holds (its ``next-stream`` counter)."""
    try:
        return int((workspace / ".stestr" / "next-stream").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def collect(bin_dir: Path, workspace: Path, tests: list[str], runs_before: int) -> Outcome:
    """The outcome of the run started when the repository held ``runs_before`` runs (none recorded: all
    failed, never the results of an earlier run)."""
    statuses = {}
    last = None
    if runs_so_far(workspace) > runs_before:
        last = subprocess.run([str(bin_dir / "stestr"), "last", "--subunit"], cwd=workspace, capture_output=True)
    if last is not None and last.stdout:
        table = subprocess.run([str(bin_dir / "subunit2csv"), "--no-passthrough"], input=last.stdout,
                               capture_output=True)  # exits 1 when the stream holds failures
        statuses = parse_csv(table.stdout.decode(errors="replace"))
    return summarize(tests, statuses)

"""The repository stands on its own: every cited reference is a file in `docs/` and exists.

Code and tests cite the protocol notes by section and deviation number (`docs/ftms.md §3.4`,
`D5`) and the virtual world's notes by quirk number (`docs/virtual-ble.md` quirk 4). These
tests fail when a file cites a note that is not in the repository, or a section, deviation or
quirk the note does not have.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FTMS = ROOT / "docs" / "ftms.md"
VIRTUAL = ROOT / "docs" / "virtual-ble.md"
# Spelled in pieces so that this file does not cite them itself.
OUTSIDE_NOTES = re.compile("(?<![/A-Za-z_-])(" + "FTMS" + r"\.md|" + "VIRTUAL_BLE" + r"\.md)")
FTMS_CITATION = re.compile(r"docs/ftms\.md([^()\n]*)")
SECTION = re.compile(r"§(\d+(?:\.\d+)?)")
DEVIATION = re.compile(r"\bD(\d+)\b")
QUIRK = re.compile(r"docs/virtual-ble\.md\)? quirks? (\d+)")


def tracked_text_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    found = []
    for name in names:
        path = ROOT / name.decode()
        if name and path.is_file() and b"\0" not in path.read_bytes()[:4096]:
            found.append(path)
    return found


def citing_lines() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(ROOT)), number, line)
        for path in tracked_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if "docs/ftms.md" in line or "docs/virtual-ble.md" in line
    ]


def test_no_file_cites_protocol_notes_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE_NOTES.search(line)
    ]
    assert outside == [], "cite docs/ftms.md or docs/virtual-ble.md instead:\n" + "\n".join(outside)


def test_every_cited_section_and_deviation_exists() -> None:
    text = FTMS.read_text()
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\. ", text, flags=re.MULTILINE))
    sections |= set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?) ", text, flags=re.MULTILINE))
    deviations = set(re.findall(r"^\| D(\d+) \|", text, flags=re.MULTILINE))
    missing = []
    for where, number, line in citing_lines():
        for cited in FTMS_CITATION.findall(line):
            missing += [
                f"{where}:{number}: §{s}" for s in SECTION.findall(cited) if s not in sections
            ]
            missing += [
                f"{where}:{number}: D{d}" for d in DEVIATION.findall(cited) if d not in deviations
            ]
    assert sections >= {"1.1", "3.4", "7.4", "10"}
    assert deviations >= {"1", "5", "15", "22"}
    assert missing == []


def test_every_cited_virtual_world_quirk_exists() -> None:
    quirks = set(re.findall(r"^(\d+)\. \*\*", VIRTUAL.read_text(), flags=re.MULTILINE))
    assert quirks == {str(n) for n in range(1, 11)}
    missing = [
        f"{where}:{number}: quirk {q}"
        for where, number, line in citing_lines()
        for q in QUIRK.findall(line)
        if q not in quirks
    ]
    assert missing == []

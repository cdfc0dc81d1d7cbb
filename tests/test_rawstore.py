"""The raw store is append-only: nothing in stationlab removes, renames or overwrites a file."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

import pytest

from stationlab import rawstore
from stationlab.errors import StationlabError

from .conftest import REPO

#: Calls that can remove, move or replace a file (``replace``/``rename`` with one argument, as
#: ``Path.replace(target)``; ``str.replace(old, new)`` takes two).
DANGEROUS = {"unlink", "remove", "rmtree", "removedirs", "rmdir", "truncate", "move",
             "rename", "replace", "remove_file", "rm", "rm_file"}
#: Reviewed call sites: (module, function, call). None of them can reach the raw store.
ALLOWED = {
    ("stationlab/rawstore.py", "_discard_incoming", "unlink"),  # only raw/incoming/*.part
    ("stationlab/export/__init__.py", "export_station", "replace"),  # export file into place
    ("stationlab/export/__init__.py", "wide_windows", "rename"),  # polars columns, not files
    ("stationlab/export/__init__.py", "export_station", "unlink"),  # its own .partial file
    ("stationlab/storage/readings.py", "monthly_statistics", "truncate"),  # timestamps (dt)
    ("stationlab/standardise.py", "readings_by_month", "truncate"),  # timestamps (dt)
    ("stationlab/flags.py", "_read_table", "rename"),  # polars columns
    ("stationlab/qc/checks.py", "flag_flat_line", "rename"),  # polars series names
    ("stationlab/qc/checks.py", "flag_spike", "rename"),
    ("stationlab/qc/checks.py", "flag_zero_sd", "rename"),
    ("stationlab/qc/checks.py", "flag_icing", "rename"),
    ("stationlab/widgets/flag_editor.py", "action", "remove"),  # soft-removes a flag row
    ("stationlab/backup.py", "backup", "rename"),  # database dumps in $STATIONLAB_HOME/backups
    ("stationlab/backup.py", "backup", "unlink"),  # rotation of those dumps
}


def dangerous_calls() -> set[tuple[str, str, str]]:
    """(module, innermost function, call name) of every call that may remove or move a file."""
    found = set()

    class Visitor(ast.NodeVisitor):
        def __init__(self, module: str) -> None:
            self.module, self.stack = module, ["<module>"]

        def visit_FunctionDef(self, node) -> None:
            self.stack.append(node.name)
            self.generic_visit(node)
            self.stack.pop()

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Call(self, node: ast.Call) -> None:
            name = (node.func.attr if isinstance(node.func, ast.Attribute)
                    else getattr(node.func, "id", None))
            one_target = len(node.args) == 1 and not node.keywords
            if name in DANGEROUS and (name not in ("replace", "rename") or one_target):
                found.add((self.module, self.stack[-1], name))
            self.generic_visit(node)

    for path in sorted((REPO / "stationlab").rglob("*.py")):
        Visitor(str(path.relative_to(REPO))).visit(ast.parse(path.read_text()))
    return found


def test_no_code_path_removes_renames_or_replaces_a_file_except_reviewed_ones():
    found = dangerous_calls()
    assert found - ALLOWED == set(), (
        "a new call that can remove or replace files; make sure it cannot touch "
        "$STATIONLAB_HOME/raw, then add it to ALLOWED")
    assert ALLOWED <= found  # the list stays current


def test_the_store_opens_files_only_to_create_them():
    tree = ast.parse((REPO / "stationlab/rawstore.py").read_text())
    modes = [node.args[1].value for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "open"]
    assert modes == ["xb"]
    writers = [node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute)
               and node.func.attr in ("write_bytes", "write_text", "chmod")]
    assert writers == ["chmod"]


def test_storing_is_content_addressed_read_only_and_never_rewrites(tmp_path, monkeypatch):
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path))
    first = rawstore.store(b"logger bytes")
    assert first.new
    path = tmp_path / "raw" / first.relative_path
    assert first.relative_path == f"{first.sha256.hex()[:2]}/{first.sha256.hex()[2:4]}/" \
                                  f"{first.sha256.hex()}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    before = path.stat()
    again = rawstore.store(b"logger bytes")
    assert not again.new and again.relative_path == first.relative_path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino, before.st_mtime_ns, before.st_ctime_ns)
    assert rawstore.read(first.relative_path, digest=first.sha256) == b"logger bytes"
    assert list((tmp_path / "raw" / "incoming").iterdir()) == []


def test_damaged_or_missing_stored_files_are_reported_not_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path))
    stored = rawstore.store(b"abc")
    with pytest.raises(StationlabError, match="does not match its sha256; the disk may be "
                       "damaged: restore it from a backup"):
        rawstore.read(stored.relative_path, digest=rawstore.store(b"other").sha256)
    with pytest.raises(StationlabError, match="the raw store has no file 00/00/0000"):
        rawstore.read("00/00/0000")


def test_the_one_removal_refuses_anything_but_a_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path))
    stored = rawstore.store(b"abc")
    path = tmp_path / "raw" / stored.relative_path
    with pytest.raises(StationlabError, match="refusing to remove .*: not a temporary file of "
                       "the raw store"):
        rawstore._discard_incoming(path)
    assert Path(path).exists()

"""Where the SQL lives: each storage module's statements in ``storage/sql/<module>.sql``, none
written into the Python, and no statement left that nothing runs (no server needed)."""

from __future__ import annotations

import ast
import re

from stationlab import storage

from .conftest import REPO

STORAGE = REPO / "stationlab" / "storage"
SQL = STORAGE / "sql"
#: Files of sql/ that are not a module's statements.
SCHEMA = {"schema.sql", "schema.plain.sql", "schema.timescaledb.sql"}
RUNS = {"execute", "executemany", "copy"}


def _strings(path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_every_statement_file_belongs_to_its_module_and_every_block_is_used():
    modules = {p.stem for p in STORAGE.glob("*.py")}
    used = set().union(*(_strings(p) for p in STORAGE.glob("*.py")), _strings(
        REPO / "stationlab" / "export" / "__init__.py"))  # names its readings query
    for path in sorted(SQL.glob("*.sql")):
        if path.name in SCHEMA:
            continue
        assert path.stem in modules, f"{path.name} has no module storage/{path.stem}.py"
        names = storage.db.queries(path.name)
        assert names, path.name
        # db.describe_schema runs every describe_ block
        unused = sorted(n for n in set(names) - used if not n.startswith("describe_"))
        assert unused == [], f"{path.name}: blocks nothing runs: {unused}"
        own = _strings(STORAGE / f"{path.stem}.py")
        assert f"{path.stem}.sql" in own, f"storage/{path.stem}.py does not read {path.name}"


def test_no_statement_is_written_into_the_python():
    found = []
    for path in sorted(STORAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RUNS and node.args):
                continue
            first = node.args[0]
            literal = isinstance(first, ast.JoinedStr) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str))
            if literal or (isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "SQL"
                           and isinstance(first.args[0], ast.Constant)):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(first)[:60]}")
    assert found == []


def test_block_names_are_unique_within_the_storage_package():
    """A name means one statement, whichever file a reader opens."""
    seen: dict[str, str] = {}
    for path in sorted(SQL.glob("*.sql")):
        if path.name in SCHEMA:
            continue
        for name in re.findall(r"^-- name: (\w+)\s*$", path.read_text(), re.MULTILINE):
            assert name not in seen, f"{name} in {seen.get(name)} and {path.name}"
            seen[name] = path.name

"""The README's command table is held against the command line itself: one row per command, and
every option and argument of a command named in its row. Adding an option to the CLI fails here
until the README says what it does."""

from __future__ import annotations

import re

import click

from stationlab.cli import main

from .conftest import REPO

ROW = re.compile(r"^\| `stationlab ([^`]*)`")


def commands(group: click.Group = main, path: tuple[str, ...] = ()):
    """Every leaf command as (its words, the command)."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def readme_rows() -> dict[tuple[str, ...], str]:
    """The command table's rows, by the command's words (the synopsis cell's words before the
    first argument or option)."""
    lines = (REPO / "README.md").read_text().split("## The command line", 1)[1]
    lines = lines.split("\n## ", 1)[0].splitlines()
    rows: dict[tuple[str, ...], str] = {}
    for line in lines:
        if match := ROW.match(line):
            synopsis = match.group(1)
            tokens = synopsis.split()
            words = tuple(tokens[:next((i for i, w in enumerate(tokens)
                                        if not re.fullmatch(r"[a-z][a-z-]*", w)), len(tokens))])
            assert words not in rows, f"two README rows for `stationlab {' '.join(words)}`"
            rows[words] = synopsis
    return rows


def test_every_command_has_exactly_one_row_and_every_row_a_command():
    rows, cli = readme_rows(), dict(commands())
    assert sorted(" ".join(w) for w in cli if w not in rows) == [], "commands missing in README"
    assert sorted(" ".join(w) for w in rows if w not in cli) == [], "README rows of no command"


def test_every_option_and_argument_is_in_its_row():
    rows = readme_rows()
    missing = []
    for words, command in commands():
        synopsis = rows.get(words, "")
        for param in command.params:
            if isinstance(param, click.Option):
                if param.hidden:
                    continue
                names = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
                missing += [f"stationlab {' '.join(words)} {n}" for n in names
                            if not re.search(rf"{re.escape(n)}(?![\w-])", synopsis)]
            else:
                name = param.human_readable_name.strip("[]").removesuffix("...").strip("[]")
                if name not in synopsis:
                    missing.append(f"stationlab {' '.join(words)} {name}")
    assert missing == []


def test_the_table_row_parser_sees_the_rows():  # guards the two tests above against a no-op
    rows = readme_rows()
    assert ("db", "up") in rows and ("import",) in rows and ("pipelines", "run") in rows
    assert len(rows) >= 30

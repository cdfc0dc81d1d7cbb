"""``stationlab meta``: station metadata in and out as IEA Task 43 WRA data model documents."""

from __future__ import annotations

from pathlib import Path

import click

from stationlab.cli._common import _run


@click.group("meta")
def meta() -> None:
    """Station metadata: IEA Task 43 WRA data model documents."""


@meta.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="FILE.json")
def meta_import(path: Path) -> None:
    """Import an IEA Task 43 WRA data model JSON document (one station per measurement
    location, named after it); it is validated first and every violation listed."""
    from stationlab import metadata

    for outcome in _run(metadata.import_document, path):
        click.echo(outcome.describe())


@meta.command("export")
@click.option("--station", required=True, help="Station name.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: standard output).")
def meta_export(station: str, out: Path | None) -> None:
    """Write a station's metadata as an IEA Task 43 WRA data model JSON document."""
    from stationlab import metadata

    text = metadata.document_text(_run(metadata.export_station, station))
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"{out}: metadata of station {station}", err=True)


COMMANDS = [meta]

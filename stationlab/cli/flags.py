"""``stationlab flags`` (import, export, list, add, remove) and ``stationlab qc`` (run the
automatic checks, list and set their parameters)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stationlab.cli._common import Timestamp, _connection, _run, key_values
from stationlab.wording import plural


@click.group("flags")
def flags() -> None:
    """Flags: import, export, list, add, remove."""


@flags.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--station", required=True, help="Station the flags belong to.")
@click.option("--author", help="Who is flagging (default: $STATIONLAB_AUTHOR or login name).")
def flags_import(file: str, station: str, author: str | None) -> None:
    """Import a brightwind cleaning file or a Windographer flag log (recognised by header)."""
    from stationlab import flags as flagging

    with _connection() as conn:
        result = _run(flagging.import_flag_file, conn, file, station, author=author)
    click.echo(f"{file}: {result.kind} flag file: {result.flags} flags added to {station}")
    if result.new_codes:
        click.echo("new flag codes: " + ", ".join(result.new_codes))
    if result.unmatched:
        click.echo("no channel matched: " + ", ".join(result.unmatched), err=True)
        sys.exit(1)


@flags.command("export")
@click.option("--station", required=True)
@click.option("--format", "format_", type=click.Choice(["windographer"]), default="windographer",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: standard output).")
def flags_export(station: str, format_: str, out: Path | None) -> None:
    """Export a station's active flags as a Windographer flag log."""
    from stationlab import flags as flagging

    with _connection() as conn:
        text = _run(flagging.windographer_flag_log, conn, station)
    if out is None:
        click.echo(text.replace("\r\n", "\n"), nl=False)
    else:
        out.write_bytes(text.encode())
        click.echo(f"{out}: {text.count(chr(10)) - 1} flag rows")


@flags.command("list")
@click.option("--station", required=True)
@click.option("--start", type=Timestamp())
@click.option("--end", type=Timestamp())
@click.option("--all", "include_removed", is_flag=True, help="Include removed flags.")
def flags_list(station: str, start, end, include_removed: bool) -> None:
    """List a station's flags: what, when, on what, by whom."""
    from stationlab import flags as flagging

    with _connection() as conn:
        table = _run(flagging.list_flags, conn, station, start=start, end=end,
                     include_removed=include_removed)
    for row in table.iter_rows(named=True):
        target = (row.get("channel_point_name") and f"{row['channel_point_name']} "
                  f"{row['statistic']}") or row.get("column_name") or row.get("point_name") \
            or "whole station"
        state = ""
        if row.get("deleted_at") is not None:
            state = f" [removed by {row['deleted_by']} {row['deleted_at']:%Y-%m-%d %H:%M}]"
        click.echo(f"{row['flag_id']:>6} {row['ts_from']:%Y-%m-%d %H:%M} to "
                   f"{row['ts_to']:%Y-%m-%d %H:%M} {row['code']:<12} {target}: {row['reason']} "
                   f"({row['source']}, {row['author']}, {row['created_at']:%Y-%m-%d %H:%M})"
                   f"{state}")
    click.echo(plural(table.height, "flag"))


@flags.command("add")
@click.option("--station", required=True)
@click.option("--start", type=Timestamp(), required=True)
@click.option("--end", type=Timestamp(), required=True)
@click.option("--code", required=True)
@click.option("--reason", default="")
@click.option("--channel", help="Channel id or export name (default: whole station).")
@click.option("--point", help="Measurement point name.")
@click.option("--author")
def flags_add(station, start, end, code, reason, channel, point, author) -> None:
    """Flag a period of a channel, a measurement point or the whole station."""
    from stationlab.api import Client

    with _connection() as conn:
        target = int(channel) if channel and channel.isdigit() else channel
        flag_id = _run(lambda: Client(conn).station(station).add_flag(
            start, end, code, reason=reason, channel=target, point=point, author=author))
    click.echo(f"flag {flag_id} added")


@flags.command("remove")
@click.argument("flag_id", type=int)
@click.option("--author")
def flags_remove(flag_id: int, author: str | None) -> None:
    """Remove a flag (its row is kept, marked removed)."""
    from stationlab import flags as flagging

    with _connection() as conn:
        _run(flagging.remove_flag, conn, flag_id, author=author)
    click.echo(f"flag {flag_id} removed")


@click.group("qc")
def qc() -> None:
    """Automatic quality control."""


@qc.command("run")
@click.option("--station", required=True)
@click.option("--start", type=Timestamp())
@click.option("--end", type=Timestamp())
@click.option("--rule", "rules", multiple=True, help="Only these rules (repeatable).")
def qc_run(station: str, start, end, rules: tuple[str, ...]) -> None:
    """Run the QC rules over a period, replacing their earlier flags there."""
    from stationlab import qc as quality_control

    with _connection() as conn:
        result = _run(quality_control.run, conn, station, start=start, end=end,
                      rules=list(rules) or None)
    if result.start is None:
        click.echo(f"{station}: no readings to check")
        return
    click.echo(f"{station} {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC: "
               + ", ".join(f"{name} {n}" for name, n in result.flags.items()))


@qc.command("rules")
@click.option("--station", help="Show the station's effective parameters.")
def qc_rules(station: str | None) -> None:
    """List the QC rules with their parameters per measurement type."""
    from stationlab import qc as quality_control

    settings = []
    if station:
        with _connection() as conn:
            settings = _run(quality_control.station_settings, conn, station)
    for rule in quality_control.RULES.values():
        click.echo(f"{rule.name} v{rule.version} -> {rule.code}: {rule.description}")
        types = sorted(set(rule.defaults) | {s["measurement_type"] for s in settings
                                             if s["rule"] == rule.name})
        for kind in types:
            params = quality_control.effective_params(rule, kind, settings)
            click.echo(f"    {kind}: {params if params is not None else 'disabled'}")


@qc.command("set")
@click.argument("rule")
@click.argument("params", nargs=-1, metavar="KEY=VALUE...")
@click.option("--station", required=True)
@click.option("--type", "measurement_type", default="*", show_default=True)
@click.option("--disable", is_flag=True)
def qc_set(rule: str, params: tuple[str, ...], station: str, measurement_type: str,
           disable: bool) -> None:
    """Override a rule's parameters at a station: stationlab qc set range high=60 --type ..."""
    from stationlab import qc as quality_control

    values = key_values(params, _number, param_hint="PARAMS")
    with _connection() as conn:
        _run(quality_control.configure, conn, station, rule, measurement_type=measurement_type,
             enabled=not disable, **values)
    click.echo(f"{station}: {rule} ({measurement_type}) "
               + ("disabled" if disable else f"set {values}"))


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError("the value must be a number") from None


COMMANDS = [flags, qc]

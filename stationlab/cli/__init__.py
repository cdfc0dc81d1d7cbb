"""The ``stationlab`` command line. Verb names and options are a contract: other tools call them.

One module per command group, in the order the data flows:

- :mod:`.db`: ``db up/down/status/migrate/compress/grant-*``
- :mod:`.importing`: ``import``, ``formats``, and the queue: ``upload``, ``fetch``, ``worker``,
  ``files``, ``retry``
- :mod:`.flags`: ``flags ...`` and ``qc ...``
- :mod:`.export`: ``export`` and ``exports build/list/path``
- :mod:`.meta`: ``meta import/export``
- :mod:`.pipelines`: ``pipelines ...`` and ``health``
- :mod:`.lab`: ``dashboard``, ``lab`` and ``demo``

Each command is a thin call into the package's domain modules (never :mod:`stationlab.storage`);
:mod:`._common` holds what they share.
"""

from __future__ import annotations

import logging

import click

from stationlab import __version__
from stationlab.cli import db, export, flags, importing, lab, meta, pipelines


@click.group()
@click.version_option(__version__, prog_name="stationlab")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Met-mast and lidar logger data: import, store in PostgreSQL, export."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _module in (db, importing, flags, export, meta, pipelines, lab):
    for _command in _module.COMMANDS:
        main.add_command(_command)

__all__ = ["main"]

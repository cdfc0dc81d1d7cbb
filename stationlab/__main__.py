"""``python -m stationlab``: the command line."""

from stationlab.cli import main

main(prog_name="stationlab")

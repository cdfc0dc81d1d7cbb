"""Widgets for notebooks and Panel apps: flag periods, correct calibrations, upload files.

Each is a :class:`panel.viewable.Viewer` with ``param`` state; what it writes goes through a
repository or callable passed in (defaults write to the stationlab database), so tests drive
them headless by setting params or firing stream events.

>>> import stationlab
>>> from stationlab.widgets import FlagEditor                    # doctest: +SKIP
>>> FlagEditor(stationlab.connect())                              # doctest: +SKIP
"""

from stationlab.widgets.calibration_editor import CalibrationEditor
from stationlab.widgets.flag_editor import FlagEditor
from stationlab.widgets.persistence import FlagRepository, import_upload
from stationlab.widgets.upload import UploadWidget

__all__ = ["CalibrationEditor", "FlagEditor", "FlagRepository", "UploadWidget", "import_upload"]

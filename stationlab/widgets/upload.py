"""UploadWidget: drop logger files into the browser; each goes through the import path and its
outcome is listed."""

from __future__ import annotations

import logging
from collections.abc import Callable

import panel as pn
import param

from stationlab.errors import StationlabError
from stationlab.widgets._notebook import after_message
from stationlab.widgets.persistence import import_upload

logger = logging.getLogger(__name__)


def describe(name: str, outcome) -> str:
    """One line for a file's outcome (an :class:`stationlab.ingest.Outcome` or any object or
    text the upload callable returns)."""
    if hasattr(outcome, "status"):
        if outcome.status == "failed":
            return f"{name}: failed: {outcome.error}"
        if outcome.status == "imported":
            return (f"{name}: imported {outcome.readings:,} readings into station "
                    f"{outcome.station!r}")
        return f"{name}: {outcome.status}"
    return f"{name}: {outcome}"


class UploadWidget(pn.viewable.Viewer):
    """Upload logger files by hand; they are imported like fetched files.

    Parameters
    ----------
    upload
        ``upload(name, data, station) -> outcome``: stores and imports one file (default
        :func:`stationlab.widgets.import_upload`, a direct import into the database).
    """

    station = param.String(default="", doc="Station for every file; empty: from the file.")
    outcomes = param.List(default=[], item_type=str, doc="One line per file uploaded.")

    def __init__(self, upload: Callable[[str, bytes, str | None], object] | None = None,
                 **params) -> None:
        super().__init__(**params)
        self.upload = upload or import_upload
        self.files = pn.widgets.FileInput(multiple=True, label="logger files",
                                          sizing_mode="stretch_width")
        self.files.param.watch(self._on_files, "value")

    def _on_files(self, event) -> None:
        # in a notebook the file's name comes after its content: take both once both are in
        if not after_message(self._take_files):
            self._take_files()

    def _take_files(self) -> None:
        values, names = self.files.value, self.files.filename
        if values is None:
            return
        if not isinstance(values, list):
            values, names = [values], [names]
        self.receive(list(zip(names, values, strict=True)))

    def receive(self, files: list[tuple[str, bytes]]) -> list:
        """Store and import ``(name, bytes)`` pairs; returns their outcomes."""
        results, lines = [], []
        for name, data in files:
            try:
                outcome = self.upload(name, data, self.station.strip() or None)
            except StationlabError as exc:
                logger.warning("upload of %s failed: %s", name, exc)
                outcome = f"failed: {exc}"
            results.append(outcome)
            lines.append(describe(name, outcome))
        self.outcomes = self.outcomes + lines
        return results

    def __panel__(self):
        log = pn.pane.Markdown(
            param.bind(lambda lines: "\n".join(f"- {line}" for line in lines)
                       or "No files uploaded yet.", self.param.outcomes),
            css_classes=["upload-outcomes"])
        return pn.Column(
            pn.widgets.TextInput.from_param(self.param.station,
                                            placeholder="from the file header"),
            self.files, log, sizing_mode="stretch_width")

"""The widgets, headless, against a real database with the demo mast imported: set a param or
fire the stream event, then check what was written and what the plot holds."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from pyviz_comms import Comm

from stationlab import storage
from stationlab.calibration import Calibration, CalibrationRepository
from stationlab.errors import StationlabError
from stationlab.widgets import CalibrationEditor, FlagEditor, FlagRepository, UploadWidget

from .conftest import DEMO
from .test_roles import analysts  # noqa: F401 (a fixture)

SPEED = "Speed 80m 0deg Mean [m/s]"
FIRST = datetime(2016, 1, 9, 15, 20, tzinfo=UTC)


@pytest.fixture
def client(mast):
    return mast.client


def test_flag_editor_saves_the_dragged_range_and_shades_it(client, conn):
    editor = FlagEditor(client, FlagRepository(client.conn, author="ana"), station="some_site")
    editor.channels = [SPEED]
    curves, spans = editor.shown()
    assert list(curves) == [SPEED] and len(spans) == 0
    # the demo file's rows, all shown (fewer than the screen), and a break at its gap
    assert len(curves[SPEED]) == 188 + 1
    # a drag with the x-box select tool over 2016-01-10 00:00..06:00 (naive UTC on the axis)
    editor.bounds.event(boundsx=(np.datetime64("2016-01-10T00:00"),
                                 np.datetime64("2016-01-10T06:00")))
    assert editor.start == datetime(2016, 1, 10, tzinfo=UTC)
    editor.param.update(code="icing", reason="rime on the cups")
    editor.save_flag()
    rows = conn.execute("SELECT f.code, f.reason, f.author, f.ts_from, f.ts_to, p.name, "
                        "c.statistic FROM flags f JOIN channels c USING (channel_id) "
                        "JOIN measurement_points p ON p.measurement_point_id = "
                        "c.measurement_point_id").fetchall()
    assert rows == [{"code": "icing", "reason": "rime on the cups", "author": "ana",
                     "ts_from": datetime(2016, 1, 10, tzinfo=UTC),
                     "ts_to": datetime(2016, 1, 10, 6, tzinfo=UTC), "name": "Spd80mN",
                     "statistic": "avg"}]
    spans = editor.shown()[1]
    assert spans.dimension_values("code").tolist() == ["icing"]
    assert spans.dimension_values("x0")[0] == np.datetime64("2016-01-10T00:00")
    assert editor._table.value["reason"].tolist() == ["rime on the cups"]
    assert editor.message.startswith("Flagged icing")


def test_flag_editor_edits_and_removes_keeping_history(client, conn):
    editor = FlagEditor(client, FlagRepository(client.conn, author="ana"), station="some_site",
                        channels=[SPEED])
    editor.param.update(start=datetime(2016, 1, 10, tzinfo=UTC),
                        end=datetime(2016, 1, 10, 6, tzinfo=UTC), reason="cups iced")
    editor.save_flag()
    first = int(editor.flags["flag_id"][0])
    editor._table.selection = [0]
    assert editor.selected_flag == first
    editor.param.update(code="suspect", reason="maybe iced")
    editor.update_flag()
    assert editor.flags["code"].to_list() == ["suspect"]
    assert editor.shown()[1].dimension_values("code").tolist() == ["suspect"]
    editor.remove_flag()
    assert editor.flags.is_empty()
    assert len(editor.shown()[1]) == 0
    history = conn.execute("SELECT code, deleted_by FROM flags ORDER BY flag_id").fetchall()
    assert history == [{"code": "bad", "deleted_by": "ana"},
                       {"code": "suspect", "deleted_by": "ana"}]


def test_flag_editor_refuses_without_a_period_or_reason(client, conn):
    editor = FlagEditor(client, FlagRepository(client.conn), station="some_site")
    editor.reason = "x"
    editor.save_flag()
    assert editor.message == ("Not saved: select a period first: drag across the plot with the "
                              "x-box select tool, or enter start and end")
    editor.param.update(start=datetime(2016, 1, 10, tzinfo=UTC),
                        end=datetime(2016, 1, 10, 6, tzinfo=UTC), reason=" ")
    editor.save_flag()
    assert editor.message == ("Not saved: write a reason, so others know why the period is "
                              "flagged")
    assert conn.execute("SELECT count(*) AS n FROM flags").fetchone()["n"] == 0


def _anemometer(conn, slope=0.04577, offset=0.2528):
    """The demo mast's 80 m north anemometer with one certificate, logger slope 0.0462/0.21."""
    point = conn.execute("SELECT measurement_point_id AS id FROM measurement_points "
                         "WHERE name = 'Spd80mN'").fetchone()["id"]
    conn.execute("UPDATE logger_configs lc SET slope = 0.0462, \"offset\" = 0.21 FROM channels c "
                 "WHERE c.channel_id = lc.channel_id AND c.measurement_point_id = %s", (point,))
    sensor = storage.calibration.insert_sensor(conn, sensor_type="anemometer", oem="Thies",
                                               model="First Class", serial_number="06123")
    storage.calibration.install_sensor(conn, sensor, point, None, None)
    repo = CalibrationRepository(conn, author="ana")
    repo.add(sensor, Calibration(slope, offset, None, datetime(2016, 1, 10, tzinfo=UTC)))
    return sensor, repo


def test_calibration_editor_previews_then_saves_a_correction(client, conn, mast):
    sensor, repo = _anemometer(conn)
    editor = CalibrationEditor(repo, station="some_site")
    assert editor.sensor == sensor
    assert editor._table.value["slope"].tolist() == [0.04577]
    editor._table.selection = [0]
    assert editor.calibration_id is not None and editor.slope == 0.04577
    editor.slope = 0.05
    assert editor.show_preview()
    first = editor.comparison.filter(pl.col("ts") == FIRST).sort("channel_id").row(0, named=True)
    # before: (8.37 - 0.21) / 0.0462 * 0.04577 + 0.2528; after: ... * 0.05 + 0.2528
    assert first["before"] == pytest.approx(8.3368520, abs=1e-6)
    assert first["after"] == pytest.approx(176.6233766 * 0.05 + 0.2528, abs=1e-6)
    assert "readings change" in editor.message
    overlay = editor._overlay.object[()]
    assert sorted(c.label for c in overlay) == ["after", "before"]
    # nothing was kept by the preview
    assert conn.execute("SELECT slope FROM calibrations").fetchone()["slope"] == 0.04577
    saved = editor.save_calibration()
    assert conn.execute("SELECT calibration_id, slope, author FROM calibrations").fetchall() == \
        [{"calibration_id": saved, "slope": 0.05, "author": "ana"}]
    assert mast.readings(channels=[SPEED], start=FIRST, end=datetime(2016, 1, 9, 15, 21,
                                                                     tzinfo=UTC))["value"][0] \
        == pytest.approx(176.6233766 * 0.05 + 0.2528, abs=1e-6)
    # The version it replaced is kept, and shown.
    earlier = editor._history.value.to_dict("records")
    assert [(r["calibration_id"], r["slope"], r["author"], r["change"], r["replaced_by"])
            for r in earlier] == [(saved, 0.04577, "ana", "corrected", "ana")]


def test_every_earlier_version_of_a_calibration_is_kept(client, conn):
    sensor, repo = _anemometer(conn)
    [first] = repo.list(sensor)["calibration_id"]
    repo.author = "bo"
    repo.correct(sensor, first, Calibration(0.046, 0.25, None, datetime(2016, 1, 10, tzinfo=UTC),
                                            certificate="C-2"))
    conn.execute("DELETE FROM calibrations WHERE calibration_id = %s", (first,))
    history = repo.history(sensor)
    assert history.select("slope", "offset", "certificate", "author", "change").rows() == [
        (0.046, 0.25, "C-2", "bo", "deleted"), (0.04577, 0.2528, None, "ana", "corrected")]
    assert history["replaced_by"].to_list() == [
        conn.execute("SELECT current_user AS u").fetchone()["u"], "bo"]
    assert history["valid_to"].to_list() == [datetime(2016, 1, 10, tzinfo=UTC)] * 2
    assert repo.list(sensor).is_empty()


def test_calibration_editor_table_edit_previews(client, conn):
    sensor, repo = _anemometer(conn)
    editor = CalibrationEditor(repo)
    editor._table.patch({"slope": [(0, 0.05)]})
    from panel.models.tabulator import TableEditEvent
    editor._on_edit(TableEditEvent(model=None, column="slope", row=0, value=0.05, old=0.04577))
    assert editor.slope == 0.05 and editor.calibration_id is not None
    assert editor.message.startswith("Preview:")


@pytest.mark.parametrize(("change", "message"), [
    ({"slope": 0.0}, "Refused: a calibration slope of 0 would turn every reading into the "
                     "offset; enter the certificate's slope"),
    ({"valid_from": datetime(2016, 1, 9, tzinfo=UTC)},
     "Refused: the period overlaps calibration 1 (the beginning to 2016-01-10 00:00) of the "
     "same sensor; change the dates or correct that calibration first"),
    ({"valid_from": datetime(2016, 1, 12, tzinfo=UTC), "valid_to": datetime(2016, 1, 11,
                                                                            tzinfo=UTC)},
     "Refused: the calibration's period ends (2016-01-11 00:00) before it starts "
     "(2016-01-12 00:00)"),
])
def test_calibration_editor_refuses_invalid_input(client, conn, change, message):
    _anemometer(conn)
    editor = CalibrationEditor(CalibrationRepository(conn))
    editor.param.update(**change)
    editor.save_calibration()
    assert editor.message == message
    assert conn.execute("SELECT count(*) AS n FROM calibrations").fetchone()["n"] == 1


def test_calibration_overlap_refused_by_the_database_too(client, conn):
    sensor, _ = _anemometer(conn)
    with pytest.raises(StationlabError, match="overlaps another calibration of the same sensor"):
        storage.calibration.write_calibration(conn, sensor_id=sensor, author="x", slope=1.0,
                                              valid_from=datetime(2016, 1, 9, tzinfo=UTC))


def test_upload_widget_imports_through_the_callable(db, conn, real_data):
    saved = []

    def upload(name, data, station):
        saved.append((name, len(data), station))
        return "queued"

    widget = UploadWidget(upload, station="mast_b")
    data = (real_data / DEMO).read_bytes()
    widget.files.param.update(filename=["demo.csv"], value=[data])
    assert saved == [("demo.csv", len(data), "mast_b")]
    assert widget.outcomes == ["demo.csv: queued"]


def test_upload_widget_default_imports_into_the_database(db, conn, real_data):
    widget = UploadWidget()
    data = (real_data / DEMO).read_bytes()
    widget.files.param.update(filename=["demo.csv"], value=[data])
    widget.files.param.update(filename=["notes.txt"], value=[b"hello"])
    assert widget.outcomes[0] == "demo.csv: imported 5,640 readings into station 'some_site'"
    assert widget.outcomes[1].startswith("notes.txt: failed: ")
    files = conn.execute("SELECT name, status, source FROM files ORDER BY file_id").fetchall()
    assert files == [{"name": "demo.csv", "status": "imported", "source": "upload"},
                     {"name": "notes.txt", "status": "failed", "source": "upload"}]


def test_long_series_are_downsampled_and_full_detail_when_zoomed():
    """Six years of 10-minute data: the screen gets SCREEN_POINTS, a zoomed day every reading."""
    import holoviews as hv

    from stationlab.widgets import _plots

    ts = pl.datetime_range(datetime(2016, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC),
                           "10m", closed="left", eager=True)
    long = pl.DataFrame({"ts": ts, "name": "speed",
                         "value": np.sin(np.arange(len(ts)) / 500.0)})
    assert long.height == 315_648
    shown = _plots.downsampled(hv.DynamicMap(lambda: _plots.curves(long, ["speed"])))
    assert len(shown[()].last) == _plots.SCREEN_POINTS
    day = (np.datetime64("2018-06-01T00:00"), np.datetime64("2018-06-02T00:00"))
    zoomed = _plots.downsample1d(_plots.curves(long, ["speed"]), algorithm="lttb",
                                 width=_plots.SCREEN_POINTS, x_range=day, dynamic=False)
    assert len(zoomed.last) == 144  # every reading of the day, none dropped


def test_flag_editors_of_two_analysts_share_flags_and_keep_to_their_own(
        analysts, real_data):  # noqa: F811 (a fixture)
    """Each analyst's editor on their own role: B sees A's flag (on the plot and in the table,
    after a refresh for one saved since), and B's attempt to remove it is refused with
    PostgreSQL's reason in the widget, not an exception."""
    import stationlab
    from stationlab.widgets.persistence import import_upload

    with stationlab.connect(analysts["ana_a"]) as a, stationlab.connect(analysts["ana_b"]) as b:
        mine = FlagEditor(a, station="some_site", channels=[SPEED])
        theirs = FlagEditor(b, station="some_site", channels=[SPEED])
        assert SPEED in theirs.param.channels.objects and len(theirs.param.channels.objects) > 10
        mine.bounds.event(boundsx=(np.datetime64("2016-01-10T00:00"),
                                   np.datetime64("2016-01-10T06:00")))
        mine.param.update(code="icing", reason="rime on the cups")
        [flag_id] = mine.save_flag()
        assert theirs.shown()[1].dimension_values("code").tolist() == []  # not yet read again
        theirs.reload()
        assert theirs.message == "1 flag(s) on some_site, as of now"
        assert theirs.shown()[1].dimension_values("code").tolist() == ["icing"]
        assert theirs._table.value[["flag_id", "author"]].values.tolist() == [[flag_id, "ana_a"]]
        theirs._table.selection = [0]
        assert theirs.selected_flag == flag_id
        theirs.remove_flag()
        assert theirs.message == (f"Not removed: flag {flag_id} belongs to ana_a; only its "
                                  "author can remove it")
        assert theirs.flags["flag_id"].to_list() == [flag_id]  # still there
        mine.selected_flag = flag_id
        mine.remove_flag()
        assert mine.message == "Flag removed (kept in the history)"
        # an analyst may not import files: the upload says so, in a line of its own
        upload = UploadWidget(lambda name, data, station: import_upload(
            name, data, station, dsn=analysts["ana_b"]))
        upload.files.param.update(filename=["demo.csv"], value=[(real_data / DEMO).read_bytes()])
        assert upload.outcomes == [
            "demo.csv: failed: ana_b may not bring files into the database (permission denied "
            "for table arrivals): files are imported by the pipelines' role; give the file to "
            "whoever runs the imports (`stationlab import FILE`), or put it where a fetch "
            "source picks it up"]


def test_flag_editor_renders_with_a_flag_reaching_past_the_last_reading(mast):
    """The demo's last reading is 2016-01-10 23:40; a flag to 2016-01-11 ends the plot's range
    with another kind of stamp than the curves' start (it broke the notebook's output)."""
    import panel as pn

    mast.add_flag("2016-01-10 08:40", "2016-01-11 00:00", "bad", point="Spd80mN",
                  reason="iced")
    editor = FlagEditor(mast.client, station="some_site")
    root = pn.panel(editor).get_root()
    assert editor.shown()[1].dimension_values("code").tolist() == ["bad"]
    assert root is not None


# --- in a notebook: what the browser sends in one comm message ------------------------------
class _Frontend(Comm):
    """A stand-in for JupyterLab's end of a widget's comm: open, records what the kernel
    sends."""

    def __init__(self):
        super().__init__()
        self._comm = True
        self.sent = []

    def send(self, data=None, metadata=None, buffers=()):
        self.sent.append(data)


def _in_a_notebook(widget):
    """``widget`` displayed as in a notebook cell: its Bokeh models in a document held as
    Panel holds it, tied to a comm; returns (its models, a function that delivers one
    PATCH-DOC comm message of the given Bokeh events, as Panel's CommManager in the browser
    sends them)."""
    from bokeh.document import Document
    from panel.io.model import add_to_doc
    from panel.models.comm_manager import CommManager

    layout, doc, comm = widget.__panel__(), Document(), _Frontend()
    root = layout.get_root(doc, comm)
    add_to_doc(root, doc, hold=True)  # as panel.io.notebook.render_mimebundle does
    ref = root.ref["id"]
    manager = CommManager(comm_id=comm.id, plot_id=ref)

    def deliver(*events):
        assert root.document is doc
        layout._on_msg(ref, manager, {"header": {"msgid": "1", "msgtype": "PATCH-DOC"},
                                      "metadata": {}, "content": {"events": list(events)},
                                      "_buffers": {}})

    return root, deliver


def _changed(model, attr, new) -> dict:
    return {"kind": "ModelChanged", "model": {"id": model.id}, "attr": attr, "new": new}


def _clicked(button) -> dict:
    return {"kind": "MessageSent", "msg_type": "bokeh_event",
            "msg_data": {"type": "event", "name": "button_click",
                         "values": {"type": "map", "entries": [["model", {"id": button.id}]]}}}


def _model(root, kind, **props):
    [found] = [m for m in root.select({"type": kind})
               if all(getattr(m, k, None) == v for k, v in props.items())]
    return found


def test_in_a_notebook_preview_uses_the_slope_typed_just_before(client, conn):
    """JupyterLab sends the slope typed (Enter) and the click on Preview right after it in one
    comm message; Panel runs the click first, and its reply to the browser used to take the
    slope's change with it: the kernel never saw 0.0458 (0 readings changed, and Save kept
    0.04577)."""
    from bokeh.models import Button, Spinner

    _anemometer(conn)
    editor = CalibrationEditor(CalibrationRepository(conn))
    root, deliver = _in_a_notebook(editor)
    editor._table.selection = [0]
    assert editor.slope == 0.04577
    slope = _model(root, Spinner, title="Slope")
    deliver(_changed(slope, "value", 0.0458), _changed(slope, "value_throttled", 0.0458),
            _clicked(_model(root, Button, label="Preview")))
    assert editor.slope == 0.0458
    changed = editor.comparison.filter(pl.col("before") != pl.col("after")).height
    assert changed > 0  # the readings the certificate covers (to 2016-01-10)
    assert editor.message.startswith(f"Preview: {changed:,} of ")
    deliver(_clicked(_model(root, Button, label="Save calibration")))
    assert conn.execute("SELECT slope FROM calibrations").fetchall() == [{"slope": 0.0458}]


def test_in_a_notebook_save_flag_uses_the_reason_typed_just_before(client, conn):
    from bokeh.models import Button, TextInput

    editor = FlagEditor(client, FlagRepository(client.conn, author="ana"), station="some_site")
    root, deliver = _in_a_notebook(editor)
    editor.param.update(start=datetime(2016, 1, 10, tzinfo=UTC),
                        end=datetime(2016, 1, 10, 6, tzinfo=UTC))
    reason = _model(root, TextInput, placeholder="why")
    deliver(_changed(reason, "value", "iced cups"),
            _clicked(_model(root, Button, label="Save flag")))
    assert editor.message.startswith("Flagged bad")
    assert conn.execute("SELECT reason FROM flags").fetchall() == [{"reason": "iced cups"}]


def test_in_a_notebook_an_upload_is_taken_with_its_name(db, conn, real_data):
    """The browser sets a file's content, name and type together and sends them in one
    message; Panel calls the watchers one property at a time, the content first: the widget
    used to find no name (a TypeError, which also lost the rest of the message)."""
    import asyncio
    import base64

    from bokeh.models import FileInput

    saved = []
    widget = UploadWidget(lambda name, data, station: saved.append((name, len(data))) or "queued")
    root, deliver = _in_a_notebook(widget)
    files = _model(root, FileInput)
    data = (real_data / DEMO).read_bytes()

    async def kernel():  # the kernel's loop, which applies the message
        deliver(_changed(files, "value", [base64.b64encode(data).decode()]),
                _changed(files, "filename", ["demo.csv"]),
                _changed(files, "mime_type", ["text/csv"]))
        await asyncio.sleep(0)

    asyncio.run(kernel())
    assert saved == [("demo.csv", len(data))]
    assert widget.outcomes == ["demo.csv: queued"]


def test_curves_break_where_readings_are_missing():
    from stationlab.widgets._plots import curves, with_gaps

    stamps = [datetime(2016, 1, 10, 15, m, tzinfo=UTC) for m in (0, 10, 20, 30)] + [
        datetime(2016, 1, 10, 16, m, tzinfo=UTC) for m in (50,)] + [
        datetime(2016, 1, 10, 17, 0, tzinfo=UTC)]
    series = pl.DataFrame({"ts": stamps, "value": [1.0, 2, 3, 4, 5, 6]})
    gapped = with_gaps(series.reverse())
    # one missing value ten minutes after 15:30, so the line does not join 15:30 to 16:50
    assert gapped["ts"].to_list() == stamps[:4] + [
        datetime(2016, 1, 10, 15, 40, tzinfo=UTC)] + stamps[4:]
    assert gapped["value"].to_list() == [1.0, 2, 3, 4, None, 5, 6]
    assert with_gaps(series.head(4)).equals(series.head(4))  # no gap: as it was
    long = gapped.drop_nulls().with_columns(pl.lit("a").alias("name"))
    curve = curves(long, ["a"])["a"]
    assert np.isnan(curve.dimension_values("value")).sum() == 1
    assert curve.kdims[0].pprint_label == "time [UTC]"

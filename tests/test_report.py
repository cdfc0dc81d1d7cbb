"""The weekly station report: made by papermill, HTML with the recovery table, sent to the
station's subscribers through a real SMTP server."""

import shutil

from stationlab import alerts, health, ingest, report, storage
from tests import faults
from tests.test_pipelines import smtp  # noqa: F401 (fixture)


def test_the_weekly_report_renders_and_is_sent_to_subscribers(db, tmp_path, smtp):  # noqa: F811
    ingest.import_paths([faults.write(tmp_path / "f.csv", changes=[
        ("Spd80mN", 72, 0, lambda v: "4.2")])], dsn=db)
    with storage.connect(db, autocommit=True) as conn:
        health.configure(conn, "some_site", report_to=["manager@example.org"])
    settings = alerts.AlertSettings(email=alerts.EmailSettings(host="127.0.0.1", port=smtp.port))
    made = report.make_report("some_site", tmp_path / "run", settings=settings)
    text = made.html.read_text()
    assert 'class="dataframe recovery"' in text
    assert "Speed 80m 0deg Mean [m/s]</td>" in text
    assert "flat line at 4.2 for 12.0 h" in text
    assert "Weekly report: some_site" in text
    assert made.sent_to == ("manager@example.org",)
    [(recipients, mail)] = smtp.messages
    assert recipients == ["manager@example.org"]
    assert mail["Subject"] == "stationlab: weekly report for some_site"
    names = [part.get_filename() for part in mail.iter_attachments()]
    assert names[0] == "some_site.report.html"
    if shutil.which("chromium"):  # the PDF where a converter is installed
        assert made.pdf.read_bytes().startswith(b"%PDF") and names[1] == "some_site.report.pdf"

"""Logs: no password ever reaches a log line; journald gets lines without our own timestamp."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.scenario import Scenario

PASSWORD = "Pw-7f3a9c-secret"


def syncd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_no_password_in_any_log_line(tmp_path, make_database):
    # a MariaDB user whose password the test knows, given through password_file
    admin_url = make_database("mariadb")
    admin = sa.create_engine(admin_url)
    database = make_url(admin_url).database
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE USER IF NOT EXISTS 'pwtest'@'%' IDENTIFIED BY '{PASSWORD}'"))
        conn.execute(sa.text(f"GRANT ALL ON `{database}`.* TO 'pwtest'@'%'"))
    user_url = make_url(admin_url).set(username="pwtest", password=None)
    s = Scenario(tmp_path, admin_url, make_database("sqlite"))
    # the county typed the password into a field that is then rejected: the reject's reason quotes it
    s.insert([{"id": 1, "update_time": datetime.now() - timedelta(hours=1)}, {"id": 2, "jg": PASSWORD,
              "update_time": datetime.now() - timedelta(hours=1)}])
    (tmp_path / "source.pw").write_text(PASSWORD + "\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        source: {{url: "{user_url.render_as_string(hide_password=False)}", password_file: source.pw}}
        target: {{url: "{s.target.url.render_as_string(hide_password=False)}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        log: {{dir: logs, level: DEBUG}}
        defaults: {{retries: 1, retry_wait: 0.1s}}
        """), encoding="utf-8")
    ok = syncd("-c", str(config), "-v", "run", "--once")
    assert ok.returncode == 0, ok.stderr
    # the same password written into a URL that fails to connect: the driver's error must not leak it
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text(encoding="utf-8").replace(
        "password_file: source.pw", "connect_timeout: 2s").replace(
        "mysql+pymysql://pwtest@", f"mysql+pymysql://pwtest:{PASSWORD}@").replace(
        f":{make_url(admin_url).port}/", ":1/"), encoding="utf-8")
    failed = syncd("-c", str(broken), "-v", "run", "--once")
    assert failed.returncode == 1
    log_text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("*.log"))
    assert "mapping record ok" in log_text and "mapping record failed" in log_text
    # the line that quoted the password is still written, with the password masked
    masked = "row 2 rejected: check_status: '***' is not in code list check_status"
    assert masked in log_text and masked in ok.stderr
    for text in (ok.stdout, ok.stderr, failed.stdout, failed.stderr, log_text):
        assert PASSWORD not in text
    assert "pwtest:***@" in failed.stderr or "pwtest" not in failed.stderr
    with admin.begin() as conn:
        conn.execute(sa.text("DROP USER 'pwtest'@'%'"))
    admin.dispose()
    s.dispose()


def test_journald_lines_carry_no_timestamp_of_our_own(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("sqlite"), make_database("sqlite"))
    s.insert([{"id": 1, "update_time": s.at(1)}])
    plain = syncd("-c", str(tmp_path / "config.yaml"), "run", "--once")
    s.insert([{"id": 2, "update_time": s.at(2)}])   # a run that reads nothing logs its summary at DEBUG
    journal = syncd("-c", str(tmp_path / "config.yaml"), "run", "--once", env={"JOURNAL_STREAM": "8:1234"})
    assert plain.returncode == journal.returncode == 0
    line = [x for x in journal.stderr.splitlines() if "mapping record ok" in x][0]
    assert line.startswith("INFO")
    plain_line = [x for x in plain.stderr.splitlines() if "mapping record ok" in x][0]
    assert plain_line[:4].isdigit()  # a date first when a person reads the terminal
    s.dispose()

"""Alerts by mail and webhook: one message per incident, one when it clears, none repeated, across
restarts; a message that cannot be sent is retried at the next check; no credential in a log."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import socketserver
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from syncd import alerts, commands
from syncd.errors import ConfigError
from syncd.state import SCHEMA_VERSION, StateStore
from syncd.status import Finding
from tests.scenario import Scenario

PASSWORD = "smtp-pw-Xq7"
ROBOT_KEY = "robot-key-9f3e"


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def _tls(self) -> None:
        server: Any = self.server
        self.request = server.tls.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")
        self.wfile = self.request.makefile("wb", buffering=0)
        server.encrypted.append(True)

    def handle(self) -> None:
        server: Any = self.server
        if server.security == "ssl":
            self._tls()
        self._reply("220 test ESMTP")
        data: list[bytes] | None = None
        while line := self.rfile.readline():
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    server.messages.append(email.message_from_bytes(b"".join(data), policy=email.policy.default))
                    data = None
                    self._reply("250 queued")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            words = line.decode().strip().split(" ")
            verb = words[0].upper()
            if verb == "EHLO":
                self._reply("250-test")
                if server.security == "starttls" and not server.encrypted:
                    self._reply("250-STARTTLS")
                self._reply("250 AUTH PLAIN")
            elif verb == "STARTTLS":
                self._reply("220 go ahead")
                self._tls()
            elif verb == "AUTH":
                _, user, password = base64.b64decode(words[2]).decode().split("\0")
                server.logins.append((user, password))
                self._reply("235 ok" if password == PASSWORD else "535 authentication failed")
            elif verb == "DATA":
                data = []
                self._reply("354 go on")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("250 ok")


class _Robot(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        server: Any = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.posts.append((self.path, json.loads(body.decode("utf-8"))))
        answer = json.dumps({"errcode": 0, "errmsg": "ok"} if server.status == 200 else {"error": "down"}).encode()
        self.send_response(server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def smtp() -> Iterator[Any]:
    server: Any = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages, server.logins, server.security, server.encrypted = [], [], "none", []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def robot() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Robot)
    server.posts, server.status = [], 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def logged() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{message}")
    yield lines
    logger.remove(sink)


def _with_alerts(tmp_path: Path, smtp_port: int, robot_port: int) -> None:
    (tmp_path / "smtp-password").write_text(PASSWORD + "\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"""\
alerts:
  name: county-410922
  smtp:
    host: 127.0.0.1
    port: {smtp_port}
    security: none
    user: syncd@county.example
    password_file: smtp-password
    from: syncd@county.example
    to: [it@county.example, duty@county.example]
  webhook:
    url: http://127.0.0.1:{robot_port}/cgi-bin/webhook/send?key={ROBOT_KEY}
""", encoding="utf-8")


@pytest.fixture
def s(tmp_path: Path, smtp: Any, robot: Any) -> Iterator[Scenario]:
    scenario = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    _with_alerts(tmp_path, smtp.server_address[1], robot.server_address[1])
    yield scenario
    scenario.dispose()


def _contents(robot: Any) -> list[str]:
    return [body["text"]["content"] for _, body in robot.posts]


def test_one_message_per_incident_and_one_when_it_clears_never_repeated(s, smtp, robot, logged):
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    sent = commands.check_alerts(s.project())
    assert sent is not None and not sent.failed
    [mail] = smtp.messages
    assert mail["Subject"] == "[syncd county-410922] record: rejected rows wait"
    assert mail["To"] == "it@county.example, duty@county.example"
    assert "1 pending reject(s)" in mail.get_content()
    assert smtp.logins == [("syncd@county.example", PASSWORD)]
    [(path, body)] = robot.posts
    assert path == f"/cgi-bin/webhook/send?key={ROBOT_KEY}"
    assert body["msgtype"] == "text" and body["text"]["content"].startswith(mail["Subject"] + "\n")

    # the same incident: nothing more, also after a restart (a new project, a new state store object)
    commands.check_alerts(s.project())
    s.run()
    commands.check_alerts(s.project())
    assert len(smtp.messages) == 1 and len(robot.posts) == 1

    commands.drop_rejects(s.project(), mapping="record", keys=["2"], reason="企业已注销")
    commands.check_alerts(s.project())
    commands.check_alerts(s.project())
    assert [m["Subject"] for m in smtp.messages] == [mail["Subject"],
                                                     "[syncd county-410922] cleared: record: rejected rows wait"]
    assert len(robot.posts) == 2 and _contents(robot)[1].startswith("[syncd county-410922] cleared: record")
    text = "\n".join(logged)
    assert "alerts: sent" in text
    assert PASSWORD not in text and ROBOT_KEY not in text


def test_a_failed_run_is_an_incident_until_a_run_succeeds(s, smtp, robot):
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.fail_insert_of(1)
    assert s.run().failed
    commands.check_alerts(s.project())
    assert [m["Subject"] for m in smtp.messages] == ["[syncd county-410922] record: the last run failed"]
    s.allow_again()
    assert not s.run().failed
    commands.check_alerts(s.project())
    assert smtp.messages[-1]["Subject"] == "[syncd county-410922] cleared: record: the last run failed"
    assert len(_contents(robot)) == 2


def test_a_password_quoted_in_an_error_never_leaves_the_machine(s, smtp, robot, tmp_path):
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.fail_insert_of(1)
    assert s.run().failed
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("UPDATE syncd_run SET error = 'OperationalError: cannot reach "
                   "postgresql://fep:TopSecret1@10.0.0.1/fep; smtp-pw-Xq7'")
    commands.check_alerts(s.project())
    [mail] = smtp.messages
    assert "cannot reach postgresql://fep:***@10.0.0.1/fep; ***" in mail.get_content()
    assert "TopSecret1" not in mail.get_content() + _contents(robot)[0] and PASSWORD not in _contents(robot)[0]


def test_a_message_that_cannot_be_sent_is_logged_and_sent_at_the_next_check(s, smtp, robot, logged):
    s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    robot.status = 500
    result = commands.check_alerts(s.project())
    assert result is not None and len(result.failed) == 1 and len(smtp.messages) == 1
    failure = [line for line in logged if "cannot send" in line]
    assert failure and "webhook to http://127.0.0.1" in failure[0] and "HTTP 500" in failure[0]
    assert ROBOT_KEY not in "\n".join(logged)
    robot.status = 200
    commands.check_alerts(s.project())
    commands.check_alerts(s.project())
    assert len(smtp.messages) == 1                  # mail was sent the first time: not again
    assert len(robot.posts) == 2                    # the refused post, the one that went through, no more
    assert "rejected rows wait" in _contents(robot)[1]


def test_a_wrong_password_is_reported_without_the_password(s, smtp, logged, tmp_path):
    (tmp_path / "smtp-password").write_text("wrong-secret-55\n", encoding="utf-8")
    s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    result = commands.check_alerts(s.project())
    assert result is not None and "refused the login of syncd@county.example" in result.failed[0]
    assert smtp.messages == []
    assert "wrong-secret-55" not in "\n".join(logged) and "wrong-secret-55" not in result.failed[0]


def test_an_unreachable_mail_server_never_stops_the_sync(s, smtp, robot):
    smtp.shutdown()
    smtp.server_close()
    s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    proc = s.syncd("run", "--once")
    assert proc.returncode == 0, proc.stderr          # the run is fine; the rejected row is not a failure
    assert "cannot send" in proc.stderr and "smtp to 127.0.0.1" in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout and ROBOT_KEY not in proc.stderr + proc.stdout
    assert len(robot.posts) == 1                      # the webhook still got its message


def test_alerts_test_sends_a_test_message(s, smtp, robot):
    proc = s.syncd("alerts", "test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sent smtp 127.0.0.1" in proc.stdout and "sent webhook http://127.0.0.1" in proc.stdout
    assert ROBOT_KEY not in proc.stdout and PASSWORD not in proc.stdout
    assert [m["Subject"] for m in smtp.messages] == ["[syncd county-410922] test message"]
    assert _contents(robot)[0].startswith("[syncd county-410922] test message")
    robot.status = 500
    proc = s.syncd("alerts", "test")
    assert proc.returncode == 1 and "not sent webhook" in proc.stdout and "HTTP 500" in proc.stdout


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_mail_over_tls(s, smtp, tmp_path, monkeypatch, security):
    """STARTTLS and SMTP over SSL, the server's certificate checked against the trusted ones."""
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate")
    key, cert = tmp_path / "mail.key", tmp_path / "mail.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    smtp.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    smtp.tls.load_cert_chain(cert, key)
    smtp.security = security
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("security: none", f"security: {security}"),
                      encoding="utf-8")
    # not trusted yet: refused, and said so
    [(where, problem)] = [r for r in commands.send_test_alert(s.project()) if r[0].startswith("smtp")]
    assert problem is not None and "CERTIFICATE_VERIFY_FAILED" in problem and smtp.messages == []
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))    # the bureau's CA, as the system's trust store
    [(where, problem)] = [r for r in commands.send_test_alert(s.project()) if r[0].startswith("smtp")]
    assert problem is None, problem
    assert [m["Subject"] for m in smtp.messages] == ["[syncd county-410922] test message"]
    assert smtp.encrypted and smtp.logins == [("syncd@county.example", PASSWORD)]


def test_alerts_test_without_channels_is_a_config_problem(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        with pytest.raises(ConfigError, match="nothing to test"):
            commands.send_test_alert(s.project())
        assert commands.check_alerts(s.project()) is None
    finally:
        s.dispose()


def test_a_custom_webhook_body(tmp_path, robot):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8") + f"""\
alerts:
  webhook:
    url: http://127.0.0.1:{robot.server_address[1]}/robot/send?access_token={ROBOT_KEY}
    body: {{msgtype: markdown, markdown: {{title: "{{subject}}", text: "### {{subject}}\\n{{message}}"}},
           at: {{isAtAll: true}}}}
""", encoding="utf-8")
        assert commands.send_test_alert(s.project())[0][1] is None
        [(_, body)] = robot.posts
        assert body["msgtype"] == "markdown" and body["at"] == {"isAtAll": True}
        assert body["markdown"]["title"].endswith("test message")
        assert body["markdown"]["text"].startswith("### [syncd ") and "This is a test" in body["markdown"]["text"]
    finally:
        s.dispose()


def test_alert_settings_are_checked_with_file_and_line(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8") + """\
alerts:
  smtp:
    host: mail.example
    security: tls
    password_file: missing-password
    to: []
  webhook:
    url: ftp://robot
""", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            s.project()
        text = str(caught.value)
        assert "config.yaml, line 10 [alerts.smtp.password_file]: password file" in text
        assert "config.yaml, line 9 [alerts.smtp.security]" in text
        assert "config.yaml, line 7 [alerts.smtp.from]: required key 'from' is missing" in text
        assert "config.yaml, line 11 [alerts.smtp.to]" in text
        assert "config.yaml, line 13 [alerts.webhook.url]: write an http:// or https:// URL" in text
    finally:
        s.dispose()


# -- the plan, without a database ----------------------------------------------------------
AT = datetime(2026, 11, 1, 8, tzinfo=timezone.utc)


def _row(channel: str, mapping: str, kind: str, sent: bool) -> dict[str, Any]:
    return {"channel": channel, "mapping": mapping, "kind": kind, "message": f"{mapping} {kind}",
            "opened_at": AT, "notified_at": AT + timedelta(seconds=1) if sent else None}


def test_the_plan_opens_sends_clears_and_forgets():
    current, unknown = alerts.incidents([
        Finding("a", "failed", "a failed"), Finding("b", "lag", "b behind"), Finding("b", "never-ran", "x"),
        Finding("c", "rejects", "c rejects")])
    assert set(current) == {("a", "failed"), ("b", "lag"), ("c", "rejects")} and unknown == set()
    stored = [_row("smtp", "a", "failed", True), _row("smtp", "c", "rejects", False),
              _row("smtp", "d", "stale", True), _row("smtp", "e", "failed", False), _row("sms", "a", "failed", True)]
    steps = {(st.action, st.channel, st.mapping, st.kind) for st in alerts.plan(current, unknown, stored, ["smtp"])}
    assert steps == {("open", "smtp", "b", "lag"), ("send", "smtp", "c", "rejects"),
                     ("clear", "smtp", "d", "stale"), ("forget", "smtp", "e", "failed"),
                     ("forget", "sms", "a", "failed")}


def test_an_unreadable_source_neither_opens_nor_clears_a_lag_incident():
    current, unknown = alerts.incidents([Finding(None, "source", "cannot connect")])
    assert current == {} and unknown == {"lag"}
    stored = [_row("smtp", "a", "lag", True), _row("smtp", "a", "failed", True)]
    steps = [(st.action, st.kind) for st in alerts.plan(current, unknown, stored, ["smtp"])]
    assert steps == [("clear", "failed")]


def test_no_run_for_longer_than_max_lag_is_a_stale_incident(s, smtp):
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    later = datetime.now(timezone.utc) + timedelta(hours=3)     # no run for 3h (health.max_lag: 2h)
    commands.check_alerts(s.project(), now=later)
    assert [m["Subject"] for m in smtp.messages] == [
        "[syncd county-410922] record: no run for longer than health.max_lag"]
    commands.check_alerts(s.project(), now=later + timedelta(minutes=2))
    assert len(smtp.messages) == 1
    s.run()
    commands.check_alerts(s.project())
    assert str(smtp.messages[-1]["Subject"]).strip().startswith("[syncd county-410922] cleared: record: no run")


def test_a_lag_past_max_lag_is_an_incident_until_a_run_catches_up(s, smtp, robot):
    """The watermark 3h behind the newest source row (health.max_lag 2h), the mapping run just now:
    a lag incident, not a stale one; it clears once a run has synced the newer rows. The source
    is read for the lag at most every health.max_lag / 2."""
    s.insert([{"id": 1, "update_time": s.at(-3600)}])
    s.run()
    s.insert([{"id": 2, "update_time": s.at(7000)}])       # newer than the watermark by 2h56m, not synced yet
    now = datetime.now(timezone.utc)
    commands.check_alerts(s.project(), now=now)
    assert [m["Subject"] for m in smtp.messages] == ["[syncd county-410922] record: the lag passes health.max_lag"]
    assert "behind the newest source row" in smtp.messages[0].get_content()
    s.run()
    commands.check_alerts(s.project(), now=now + timedelta(minutes=2))      # the source is not read again yet
    assert len(smtp.messages) == 1
    commands.check_alerts(s.project(), now=now + timedelta(hours=1))
    assert smtp.messages[-1]["Subject"] == "[syncd county-410922] cleared: record: the lag passes health.max_lag"
    assert len(smtp.messages) == 2 and len(robot.posts) == 2


def test_a_version_6_store_gains_the_alert_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    StateStore(engine)
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("DROP TABLE syncd_alert")
        db.execute("UPDATE syncd_meta SET value = '6' WHERE name = 'schema_version'")
    engine.dispose()
    engine = sa.create_engine(url)
    store = StateStore(engine)
    assert store.schema_version() == SCHEMA_VERSION == 7
    store.open_incident("smtp", "record", "failed", "record failed", AT)
    assert [(r["mapping"], r["kind"], r["opened_at"]) for r in store.incidents()] == [("record", "failed", AT)]
    engine.dispose()


def test_the_daemon_alerts_once_clears_once_and_not_again_after_a_restart(tmp_path, robot):
    import signal
    import time

    import sqlalchemy as sa

    from tests.test_daemon import Daemon, build, wait_for

    s = build(tmp_path, rows=10, schedule="1s")
    try:
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8") + f"""\
alerts:
  every: 1s
  name: county
  webhook: {{url: "http://127.0.0.1:{robot.server_address[1]}/send?key={ROBOT_KEY}"}}
""", encoding="utf-8")
        with s.target.begin() as conn:
            conn.execute(sa.text("ALTER TABLE dp_record RENAME TO dp_record_away"))
        d = Daemon(s)
        try:
            wait_for(lambda: robot.posts, 30, "the alert of the failed run")
            assert _contents(robot)[0].startswith("[syncd county] record: the last run failed")
            d.wait_log("mapping record failed", count=3)
            assert len(robot.posts) == 1, (_contents(robot), d.log)
            with s.target.begin() as conn:
                conn.execute(sa.text("ALTER TABLE dp_record_away RENAME TO dp_record"))
            wait_for(lambda: len(robot.posts) >= 2, 30, "the alert that it cleared")
            assert _contents(robot)[1].startswith("[syncd county] cleared: record: the last run failed")
            d.signal(signal.SIGTERM)
            assert d.wait(30) == 0
            assert ROBOT_KEY not in d.log
        finally:
            d.kill()
        # a failure while the daemon is down: the restarted daemon sends it once
        with s.target.begin() as conn:
            conn.execute(sa.text("ALTER TABLE dp_record RENAME TO dp_record_away"))
        d = Daemon(s)
        try:
            wait_for(lambda: len(robot.posts) >= 3, 30, "the alert after the restart")
            d.signal(signal.SIGTERM)
            assert d.wait(30) == 0
        finally:
            d.kill()
        d = Daemon(s)
        try:
            d.wait_log("mapping record failed", count=3)
            time.sleep(1.5)
            d.signal(signal.SIGTERM)
            assert d.wait(30) == 0
        finally:
            d.kill()
        assert len(robot.posts) == 3          # the incident was sent once, across two restarts
    finally:
        s.dispose()


# -- many incidents, failing channels, slow servers -------------------------------------------
def _two_incidents(s: Scenario) -> datetime:
    """Rejected rows wait, and (3h on) no run for longer than health.max_lag: two incidents."""
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    return datetime.now(timezone.utc) + timedelta(hours=3)


def test_one_message_per_channel_per_check_lists_every_incident(s, smtp, robot):
    later = _two_incidents(s)
    commands.check_alerts(s.project(), now=later)
    [mail] = smtp.messages
    assert mail["Subject"] == "[syncd county-410922] 2 incident(s): record"
    assert "1 pending reject(s)" in mail.get_content() and "no run since" in mail.get_content()
    [content] = _contents(robot)
    assert content.startswith(mail["Subject"]) and "pending reject(s)" in content and "no run since" in content
    commands.drop_rejects(s.project(), mapping="record", keys=["2"], reason="企业已注销")
    s.run()
    commands.check_alerts(s.project(), now=datetime.now(timezone.utc))
    assert smtp.messages[-1]["Subject"] == "[syncd county-410922] 2 cleared: record"
    assert "record: rejected rows wait" in smtp.messages[-1].get_content()
    assert len(smtp.messages) == 2 and len(robot.posts) == 2


class _Failing:
    name = key = "webhook"

    def __init__(self) -> None:
        self.attempts = 0

    def where(self) -> str:
        return "http://robot.example"

    def send(self, message: alerts.Message) -> None:
        self.attempts += 1
        raise alerts.SendError("the endpoint answered HTTP 503 Service Unavailable")

    def secrets(self) -> list[str]:
        return []


def test_a_failing_channel_is_tried_once_per_check_however_many_incidents(s, smtp, robot):
    later = _two_incidents(s)
    failing = _Failing()
    result = alerts.check(s.project(), now=later, using=[failing])
    assert failing.attempts == 1 and len(result.failed) == 1 and result.sent == []
    alerts.check(s.project(), now=later + timedelta(minutes=2), using=[failing])
    assert failing.attempts == 2
    robot.status = 500
    commands.check_alerts(s.project(), now=later)
    assert len(robot.posts) == 1 and len(smtp.messages) == 1


class _Silent(socketserver.BaseRequestHandler):
    """Accepts the connection and never says a word (a tarpit, a firewall that half-opens)."""

    def handle(self) -> None:
        self.server.idle.wait(30)      # type: ignore[attr-defined]


@pytest.fixture
def silent() -> Iterator[Any]:
    server: Any = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads, server.idle = True, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.idle.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("channel", ["smtp", "webhook"])
def test_a_server_that_never_answers_holds_the_check_no_longer_than_the_timeout(tmp_path, silent, channel):
    import time

    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        port = silent.server_address[1]
        settings = (f"  smtp: {{host: 127.0.0.1, port: {port}, security: none, from: a@b.example, to: c@d.example, "
                    "timeout: 1s}\n" if channel == "smtp" else
                    f"  webhook: {{url: 'http://127.0.0.1:{port}/send?key={ROBOT_KEY}', timeout: 1s}}\n")
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8") + "alerts:\n" + settings, encoding="utf-8")
        s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
        s.run()
        started = time.monotonic()
        result = commands.check_alerts(s.project())
        took = time.monotonic() - started
        assert result is not None and len(result.failed) == 1 and "timed out" in result.failed[0]
        assert took < 4, took
        assert ROBOT_KEY not in result.failed[0]
    finally:
        s.dispose()


# -- what reaches the log and the robot: no key, no password --------------------------------------
def _webhook(url: str, body: Any = None) -> alerts.Webhook:
    from syncd.config import WebhookAlerts

    fields: dict[str, Any] = {"url": url, "headers": {}, "timeout": timedelta(seconds=2)}
    fields["body"] = body if body is not None else WebhookAlerts.model_fields["body"].default
    return alerts.Webhook(WebhookAlerts.model_construct(**fields))


def test_webhook_failures_become_send_errors_without_the_key(silent):
    import socket as sockets

    message = alerts.Message("subject", "body")
    # a space in the query (only a hand-built config gets this far: the config refuses it)
    with pytest.raises(alerts.SendError) as caught:
        _webhook(f"http://127.0.0.1:9/robot/send?key={ROBOT_KEY} x").send(message)
    assert "InvalidURL" in str(caught.value) and ROBOT_KEY not in str(caught.value)
    # a body that JSON cannot hold (a YAML date)
    with pytest.raises(alerts.SendError) as caught:
        _webhook(f"http://127.0.0.1:9/send?key={ROBOT_KEY}", {"day": datetime(2026, 1, 1).date()}).send(message)
    assert "TypeError" in str(caught.value)
    # an endpoint that is not an HTTP server
    listener = sockets.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_garbage() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_8.0 " + ROBOT_KEY.encode() + b"\r\n")
        conn.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    with pytest.raises(alerts.SendError) as caught:
        _webhook(f"http://127.0.0.1:{listener.getsockname()[1]}/cgi-bin/{ROBOT_KEY}/send").send(message)
    listener.close()
    assert "BadStatusLine" in str(caught.value) and ROBOT_KEY not in str(caught.value)


def test_an_unexpected_failure_of_a_check_is_logged_without_secrets(s, logged, monkeypatch, tmp_path):
    (tmp_path / "state-password").write_text("StateStorePw8\n", encoding="utf-8")

    def broken(project: Any, **kwargs: Any) -> Any:
        url = project.config.alerts.webhook.url
        raise RuntimeError(f"cannot open {url}: {PASSWORD} StateStorePw8")

    monkeypatch.setattr(alerts, "check", broken)
    monkeypatch.setattr(alerts, "_database_passwords", lambda project: ["StateStorePw8"])
    assert commands.check_alerts(s.project()) is None
    [line] = [line for line in logged if "could not check for incidents" in line]
    assert "cannot open http://127.0.0.1" in line
    assert ROBOT_KEY not in line and "/cgi-bin/webhook/send" not in line and PASSWORD not in line
    assert "StateStorePw8" not in line


def test_the_state_stores_password_is_masked_too(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        (tmp_path / "state-password").write_text("StateStorePw8\n", encoding="utf-8")
        config = tmp_path / "config.yaml"
        text = config.read_text(encoding="utf-8")
        text = "\n".join(line for line in text.splitlines() if not line.startswith("state:"))
        config.write_text(text + "\nstate: {url: 'postgresql+psycopg://syncd@127.0.0.1:1/state', "
                                 "password_file: state-password}\n", encoding="utf-8")
        assert "StateStorePw8" in alerts.secrets(s.project())
    finally:
        s.dispose()


def test_webhook_urls_with_spaces_and_bodies_that_are_not_json_are_config_problems(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        config = tmp_path / "config.yaml"
        base = config.read_text(encoding="utf-8")
        lines = len(base.splitlines())
        config.write_text(base + f"""\
alerts:
  webhook:
    url: "http://10.1.2.3/send?key={ROBOT_KEY}\\t"
    body: {{msgtype: text, text: {{content: "{{subject}}"}}, day: 2026-01-01}}
""", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            s.project()
        text = str(caught.value)
        assert f"config.yaml, line {lines + 3} [alerts.webhook.url]: the URL holds a tab" in text
        assert f"config.yaml, line {lines + 4} [alerts.webhook.body]: body must be JSON" in text
        assert ROBOT_KEY not in text
    finally:
        s.dispose()


# -- at least once ---------------------------------------------------------------------------
def test_a_message_sent_whose_sending_cannot_be_recorded_is_sent_again(s, smtp, robot, logged, monkeypatch):
    from syncd.errors import TransientSyncError

    s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()

    def locked(self: Any, *args: Any) -> None:
        raise TransientSyncError("state store state.db: database is locked (while trying to record an alert sent)")

    monkeypatch.setattr(alerts, "_record", lambda what, write, known: alerts_record(what, write, known, attempts=2))
    monkeypatch.setattr(StateStore, "incident_sent", locked)
    result = commands.check_alerts(s.project())
    assert result is not None and len(result.sent) == 2 and len(smtp.messages) == 1
    assert any("could not record the message about record: rejects" in line for line in logged)
    monkeypatch.undo()
    commands.check_alerts(s.project())
    commands.check_alerts(s.project())
    assert len(smtp.messages) == 2 and len(robot.posts) == 2      # once more, then never again


alerts_record = alerts._record


# -- channels come and go ---------------------------------------------------------------------
def test_another_webhook_url_is_another_channel_and_removed_alerts_forget(s, smtp, robot, tmp_path):
    s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    commands.check_alerts(s.project())
    assert len(robot.posts) == 1
    config = tmp_path / "config.yaml"
    original = config.read_text(encoding="utf-8")
    config.write_text(original.replace("/cgi-bin/webhook/send?", "/cgi-bin/webhook/other?"), encoding="utf-8")
    commands.drop_rejects(s.project(), mapping="record", keys=["2"], reason="企业已注销")
    commands.check_alerts(s.project())
    # the new robot never heard of the incident: no "cleared" for it; the mail channel says it cleared
    assert len(robot.posts) == 1 and smtp.messages[-1]["Subject"].startswith("[syncd county-410922] cleared")
    # alerts taken out of the config: what was stored is forgotten
    s.insert([{"id": 3, "jg": "坏值", "update_time": s.at(3)}])
    s.run()
    commands.check_alerts(s.project())
    assert len(smtp.messages) == 3
    config.write_text(original[:original.index("alerts:")], encoding="utf-8")
    assert s.syncd("run", "--once").returncode == 0
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT COUNT(*) FROM syncd_alert").fetchone() == (0,)


def test_a_run_that_hangs_does_not_hold_up_its_alert(tmp_path, robot):
    """The target locked by another session: the daemon's run waits on it, and the alert that the
    run lasts longer than health.max_run goes out meanwhile (alerts have a worker of their own)."""
    import signal

    import sqlalchemy as sa

    from tests.test_daemon import Daemon, build, wait_for

    s = build(tmp_path, rows=10, schedule="1s", health="max_run: 1s")
    try:
        config = tmp_path / "config.yaml"
        text = config.read_text(encoding="utf-8").replace(
            f'target: {{url: "sqlite:///{tmp_path / "fep.db"}"}}',
            f'target: {{url: "sqlite:///{tmp_path / "fep.db"}", connect_timeout: 40s}}')
        config.write_text(text + f"""\
alerts:
  every: 1s
  name: county
  webhook: {{url: "http://127.0.0.1:{robot.server_address[1]}/send?key={ROBOT_KEY}", timeout: 2s}}
""", encoding="utf-8")
        holder = sa.create_engine(f"sqlite:///{tmp_path / 'fep.db'}", poolclass=sa.pool.NullPool)
        conn = holder.connect()
        conn.exec_driver_sql("BEGIN EXCLUSIVE")         # the target is locked: the first run waits on it
        d = Daemon(s)
        try:
            wait_for(lambda: robot.posts, 25, "the alert of the run that hangs")
            assert _contents(robot)[0].startswith("[syncd county] record: a run lasts longer than health.max_run")
            conn.exec_driver_sql("ROLLBACK")
            conn.close()
            wait_for(lambda: len(robot.posts) >= 2, 30, "the alert that it cleared")
            assert _contents(robot)[1].startswith("[syncd county] cleared: record: a run lasts longer")
            d.signal(signal.SIGTERM)
            assert d.wait(30) == 0
        finally:
            d.kill()
            conn.close()
            holder.dispose()
    finally:
        s.dispose()


def test_check_warns_that_a_mail_password_would_cross_in_clear(s, tmp_path):
    (tmp_path / "smtp-password").chmod(0o600)
    proc = s.syncd("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "alerts.smtp has a user (syncd@county.example) and security: none" in " ".join(proc.stdout.split())
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("security: none", "security: starttls"),
                      encoding="utf-8")
    assert "security: none" not in s.syncd("check").stdout


class _Slow:
    """A channel whose server takes ``seconds`` to take a message."""

    def __init__(self, key: str, seconds: float) -> None:
        self.name = self.key = key
        self.seconds, self.sent = seconds, 0

    def where(self) -> str:
        return "slow.example"

    def send(self, message: alerts.Message) -> None:
        import time

        time.sleep(self.seconds)
        self.sent += 1

    def secrets(self) -> list[str]:
        return []


def test_a_check_begins_no_message_past_its_deadline_and_the_next_check_sends_it(s, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("  name: county-410922", "  every: 1s\n"
                                                                 "  name: county-410922"), encoding="utf-8")
    s.insert([{"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    slow, other = _Slow("smtp", 1.2), _Slow("webhook", 0)
    result = alerts.check(s.project(), using=[slow, other])
    assert (slow.sent, other.sent) == (1, 0) and result.failed == ["webhook slow.example: the check ran out of time"]
    alerts.check(s.project(), using=[slow, other])
    assert (slow.sent, other.sent) == (1, 1)

"""Files and secrets: modes whatever the umask, warnings for readable passwords, no row values in -v."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_daemon import REPO, build


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _syncd(s, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", "-c", str(s.dir / "config.yaml"), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          preexec_fn=lambda: os.umask(umask))


def _with_state_dir_and_logs(s, tmp_path: Path, password_file: Path | None = None) -> None:
    config = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    config = config.replace(f'state: {{url: "sqlite:///{tmp_path / "state.db"}"}}\n',
                            f"state: {{dir: {tmp_path / 'state'}}}\n")
    config = config.replace("log: {level: INFO}", f"log: {{level: INFO, dir: {tmp_path / 'logs'}}}")
    if password_file is not None:
        config = config.replace(f'target: {{url: "sqlite:///{tmp_path / "fep.db"}"}}',
                                f'target: {{url: "sqlite:///{tmp_path / "fep.db"}", password_file: {password_file}}}')
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_state_lock_and_log_files_get_their_modes_whatever_the_umask(tmp_path, umask):
    s = build(tmp_path, rows=5)
    _with_state_dir_and_logs(s, tmp_path)
    result = _syncd(s, "run", "--once", umask=umask)
    assert result.returncode == 0, result.stderr
    state = tmp_path / "state"
    assert _mode(state) == 0o700
    assert _mode(state / "state.db") == 0o600
    assert _mode(state / "state.db.lock") == 0o600
    assert _mode(tmp_path / "logs") == 0o750
    assert _mode(tmp_path / "logs" / "syncd.log") == 0o640


def test_an_existing_state_file_with_a_wide_mode_is_narrowed(tmp_path):
    s = build(tmp_path, rows=5)
    _with_state_dir_and_logs(s, tmp_path)
    (tmp_path / "state").mkdir(mode=0o755)
    assert _syncd(s, "run", "--once").returncode == 0
    os.chmod(tmp_path / "state" / "state.db", 0o644)
    assert _syncd(s, "run", "--once").returncode == 0
    assert _mode(tmp_path / "state") == 0o700
    assert _mode(tmp_path / "state" / "state.db") == 0o600


def test_the_write_ahead_log_of_the_state_store_is_private_too(tmp_path):
    """The store runs in WAL mode: its -wal and -shm files hold the same rows as the store and get
    its mode whatever the umask; ones left with a wider mode are narrowed when the store is opened."""
    from syncd.config import load_config
    from syncd.engines import open_state

    s = build(tmp_path, rows=5)
    _with_state_dir_and_logs(s, tmp_path)
    assert _syncd(s, "run", "--once", umask=0o000).returncode == 0
    state = tmp_path / "state"
    config = load_config(tmp_path / "config.yaml")
    old = os.umask(0o000)
    try:
        store = open_state(config)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2      # FULL
            assert _mode(state / "state.db-wal") == 0o600
            assert _mode(state / "state.db-shm") == 0o600
            os.chmod(state / "state.db-wal", 0o644)
            os.chmod(state / "state.db-shm", 0o644)
            open_state(config).engine.dispose()
            assert _mode(state / "state.db-wal") == 0o600
            assert _mode(state / "state.db-shm") == 0o600
        store.engine.dispose()
    finally:
        os.umask(old)


def test_a_world_readable_password_file_draws_a_warning_in_check_and_at_start(tmp_path):
    s = build(tmp_path, rows=5)
    secret = tmp_path / "target.pw"
    secret.write_text("hunter22\n", encoding="utf-8")
    os.chmod(secret, 0o644)
    _with_state_dir_and_logs(s, tmp_path, password_file=secret)
    check = _syncd(s, "check")
    assert check.returncode == 0, check.stderr
    assert f"target.password_file {secret} can be read by every user" in " ".join(check.stdout.split())
    run = _syncd(s, "run", "--once")
    assert "can be read by every user" in run.stderr
    os.chmod(secret, 0o640)
    assert "can be read by every user" not in _syncd(s, "check").stdout


def test_verbose_logs_sql_but_never_row_values(tmp_path):
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1), "title": "一行只属于源库的秘密值"}])
    _with_state_dir_and_logs(s, tmp_path)
    result = _syncd(s, "-v", "run", "--once")
    assert result.returncode == 0, result.stderr
    logged = result.stderr + (tmp_path / "logs" / "syncd.log").read_text(encoding="utf-8")
    assert "SELECT" in logged
    assert "一行只属于源库的秘密值" not in logged


@pytest.mark.parametrize("source", ["mariadb", "postgresql"])
def test_verbose_logs_sql_but_never_row_values_read_from_a_server(tmp_path, make_database, source):
    """The same from a server, whose rows come through SQLAlchemy's results (a SQLite source's come
    from the driver's cursor, past SQLAlchemy's row logging): DEBUG on sqlalchemy.engine would log
    each of them."""
    from tests.scenario import scenarios

    with scenarios(tmp_path, make_database) as build_scenario:
        s = build_scenario(source, "sqlite")
        s.insert([{"id": 1, "update_time": s.at(1), "title": "一行只属于源库的秘密值"}])
        with (tmp_path / "config.yaml").open("a", encoding="utf-8") as config:
            config.write(f"log: {{level: INFO, dir: {tmp_path / 'logs'}}}\n")
        result = s.syncd("-v", "run", "--once")
        assert result.returncode == 0, result.stderr
        logged = result.stderr + (tmp_path / "logs" / "syncd.log").read_text(encoding="utf-8")
        assert "SELECT" in logged
        assert "一行只属于源库的秘密值" not in logged


# -- a state store on a network file system -----------------------------------------------------

FAKE_MOUNTS = (
    "/dev/sda2 / ext4 rw,relatime 0 0\n"
    "proc /proc proc rw,nosuid 0 0\n"
    "/dev/sdb1 /var ext4 rw 0 0\n"
    "fileserver:/export/syncd /var/lib/syncd nfs4 rw,vers=4.2 0 0\n"
    "//nas/share /mnt/county\\040share cifs rw 0 0\n"
    "sshfs#me@host: /mnt/remote fuse.sshfs rw 0 0\n"
    "/dev/sdc1 /mnt/usb fuseblk rw 0 0\n"
    "/dev/sdd1 /var/lib/syncd/local xfs rw 0 0\n"
)


@pytest.mark.parametrize(("path", "mount", "mode"), [
    ("/var/lib/syncd/state.db", ("/var/lib/syncd", "nfs4"), "DELETE"),
    ("/var/lib/syncd", ("/var/lib/syncd", "nfs4"), "DELETE"),
    ("/var/lib/syncdx/state.db", ("/var", "ext4"), "WAL"),                 # a name that only begins alike
    ("/var/lib/syncd/local/state.db", ("/var/lib/syncd/local", "xfs"), "WAL"),   # a local disk mounted inside
    ("/mnt/county share/state.db", ("/mnt/county share", "cifs"), "DELETE"),     # \\040 is a space
    ("/mnt/remote/state.db", ("/mnt/remote", "fuse.sshfs"), "DELETE"),
    ("/mnt/usb/state.db", ("/mnt/usb", "fuseblk"), "WAL"),                 # NTFS through FUSE: a local disk
    ("/home/syncd/state.db", ("/", "ext4"), "WAL"),
])
def test_the_state_store_s_journal_mode_follows_its_file_system(path, mount, mode):
    from syncd import files

    assert files.mount_of(path, FAKE_MOUNTS) == mount
    assert files.state_journal_mode(mount[1]) == mode
    assert files.state_journal_mode(None) == "WAL"                        # not Linux: no list to read


@pytest.mark.parametrize("kind", ["nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse", "fuse.glusterfs", "9p"])
def test_network_file_systems(kind):
    from syncd import files

    assert files.network_file_system(kind)
    assert not files.network_file_system("ext4") and not files.network_file_system("fuseblk")


def test_a_state_store_on_nfs_keeps_the_rollback_journal_and_check_says_why(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from syncd import cli, commands, state
    from syncd.config import load_config
    from syncd.engines import open_state

    folder = tmp_path / "state"
    (tmp_path / "config.yaml").write_text(
        'source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n'
        f'state: {{dir: "{folder}"}}\n', encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "record.yaml").write_text(
        "source: {table: src, key: [id], cursor: ts}\ntarget: {table: dst, key: [id]}\ncolumns:\n  id: {from: id}\n",
        encoding="utf-8")
    for db in ("s.db", "t.db"):
        (tmp_path / db).touch()
    mounts = tmp_path / "mounts"
    monkeypatch.setattr(state, "MOUNTS", mounts)
    config = load_config(tmp_path / "config.yaml")

    def journal_mode() -> str:
        store = open_state(config)
        try:
            with store.engine.connect() as conn:
                return conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        finally:
            store.engine.dispose()

    real = os.path.realpath(tmp_path)
    mounts.write_text(f"/dev/sda2 / ext4 rw 0 0\nserver:/x {real} nfs rw 0 0\n", encoding="utf-8")
    assert journal_mode() == "delete"
    [warning] = commands.state_warnings(config)
    assert f"is on a nfs file system (mounted on {real})" in warning and "local disk" in warning
    said = " ".join(CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "check"]).output.split())
    assert "write-ahead log does not work there" in said

    mounts.write_text("/dev/sda2 / ext4 rw 0 0\n", encoding="utf-8")
    assert journal_mode() == "wal"
    assert commands.state_warnings(config) == []

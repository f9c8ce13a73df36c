"""The offline bundle, installed as county IT would: a fresh venv, no package index, outside the
source tree; then demo, ddl and init from the installed wheel alone."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYVER = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def _bundle(out: Path, *args: str) -> Path:
    done = subprocess.run(["bash", str(REPO / "scripts" / "bundle.sh"), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.is_file()
    return path


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_bundle_installs_without_a_network_and_runs_outside_the_source_tree(tmp_path):
    bundle = _bundle(tmp_path / "dist", "--extras", "dm,kingbase")
    assert bundle.name == f"syncd-{_version()}-offline-{TAG}-linux_{os.uname().machine}-dm-kingbase.tar.gz"
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    [folder] = list((tmp_path / "unpacked").iterdir())
    prefix = tmp_path / "opt-syncd"
    # No index at all: every package must come from the bundle.
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PYTHON": sys.executable, "PIP_CONFIG_FILE": os.devnull}
    _run(["sh", str(folder / "install.sh"), str(prefix)], cwd=tmp_path, env=offline)
    syncd = str(prefix / "bin" / "syncd")
    elsewhere = tmp_path / "county"
    elsewhere.mkdir()
    clean = {"PYTHONPATH": ""}
    where = _run([str(prefix / "bin" / "python"), "-c", "import syncd; print(syncd.__file__)"], elsewhere, clean)
    assert str(prefix) in where.stdout and str(REPO) not in where.stdout
    # --extras: the DM8 and KingbaseES drivers came from the bundle too
    drivers = _run([str(prefix / "bin" / "python"), "-m", "pip", "show", "dmPython", "dmSQLAlchemy", "ksycopg2"],
                   elsewhere, clean)
    assert drivers.stdout.count("Name:") == 3, drivers.stdout
    demo = _run([syncd, "demo", "--dir", "demo"], elsewhere, clean)
    assert (elsewhere / "demo" / "fep.db").is_file(), demo.stdout
    _run([syncd, "ddl", "--out", "ddl", "--dialect", "oracle"], elsewhere, clean)
    assert "CREATE TABLE" in (elsewhere / "ddl" / "oracle.sql").read_text(encoding="utf-8")
    _run([syncd, "init", "start"], elsewhere, clean)
    assert (elsewhere / "start" / "config.yaml").is_file()
    assert (elsewhere / "start" / "mappings" / "codes").is_dir()
    # the wheel carries the compiled message catalog
    chinese = _run([syncd, "--lang", "zh", "--help"], elsewhere, clean)
    assert "显示此帮助信息并退出" in chinese.stdout, chinese.stdout


@pytest.mark.slow
def test_the_arm64_bundle_holds_only_aarch64_binary_wheels_for_this_python(tmp_path):
    bundle = _bundle(tmp_path / "dist", "--platform", "aarch64", "--python", PYVER, "--extras", "dm,kingbase")
    assert bundle.name.endswith(f"-offline-{TAG}-linux_aarch64-dm-kingbase.tar.gz")
    with tarfile.open(bundle) as tar:
        wheels = [Path(m.name).name for m in tar.getmembers() if m.name.endswith(".whl")]
    assert any(w.startswith("syncd-") for w in wheels)
    binary = [w for w in wheels if not w.endswith("-none-any.whl")]
    assert binary, wheels
    for wheel in binary:
        python_tag, abi_tag, platform_tag = wheel[:-4].split("-")[-3:]
        assert "aarch64" in platform_tag, wheel
        assert python_tag in (TAG, "cp32", "py3") or abi_tag == "abi3", wheel
    names = {w.split("-")[0].lower().replace("_", "-") for w in wheels}
    assert {"sqlalchemy", "pymysql", "psycopg-binary", "oracledb", "pandas", "numpy"} <= names
    assert {"dmpython", "dmsqlalchemy", "ksycopg2"} <= names, names


def _version() -> str:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser["metadata"]["version"]

#!/usr/bin/env bash
# Build the offline bundle: syncd's wheel, every dependency's wheel and an install.sh, in one
# tar.gz for a machine on the government extranet with no internet.
#
#   scripts/bundle.sh [--platform x86_64|aarch64] [--python 3.11] [--extras dm,kingbase] [--out DIR]
#
# --extras adds the drivers of optional databases (setup.cfg's extras: dm for DM8, kingbase for
# KingbaseES); install.sh then installs syncd with them.
# --platform aarch64 builds the bundle for ARM64 servers (Kunpeng, Phytium: Kylin, UOS) from any
# machine: binary wheels are downloaded for that platform and Python version; pure-Python ones
# (syncd, and dependencies published only as source) are built here. The target machine needs
# the same Python version (python3 -m venv); docs/operations.md says how to get it there.
# Prints the bundle's path on its last line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-$(command -v python || command -v python3)}
platform=$(uname -m)
pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
out=dist
extras=
while (( $# )); do
    case $1 in
        --platform) platform=$2; shift 2 ;;
        --python) pyver=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --extras) extras=$2; shift 2 ;;
        *) echo "bundle.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case $platform in x86_64|aarch64) ;; *) echo "bundle.sh: --platform is x86_64 or aarch64" >&2; exit 2 ;; esac
if [[ -n $extras && ! $extras =~ ^[a-z]+(,[a-z]+)*$ ]]; then
    echo "bundle.sh: --extras is a comma-separated list of setup.cfg extras, e.g. dm,kingbase" >&2; exit 2
fi
requirement=syncd${extras:+[$extras]}

log() { printf 'bundle.sh: %s\n' "$*" >&2; }
version=$("$PYTHON" -c 'import configparser; c = configparser.ConfigParser(); c.read("setup.cfg"); print(c["metadata"]["version"])')
tag="cp${pyver/./}"
name="syncd-$version-offline-$tag-linux_$platform${extras:+-${extras//,/-}}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/$name/wheels" "$out"
wheels="$work/$name/wheels"

log "building syncd $version and the pure-Python wheels"
"$PYTHON" -m pip wheel -q --no-deps -w "$wheels" . >&2
# Dependencies published only as source (sdnotify) become wheels here: pure Python, any platform.
"$PYTHON" -m pip wheel -q --no-deps --no-binary :all: -w "$wheels" sdnotify >&2

log "downloading the dependencies for $platform, Python $pyver"
"$PYTHON" -m pip download -q --dest "$wheels" --find-links "$wheels" --only-binary=:all: \
    --implementation cp --python-version "$pyver" --abi "$tag" --abi abi3 --abi none \
    --platform "manylinux2014_$platform" --platform "manylinux_2_17_$platform" \
    --platform "manylinux_2_28_$platform" --platform "manylinux_2_24_$platform" --platform any \
    "$(ls "$wheels"/syncd-*.whl)${extras:+[$extras]}" >&2

cat >"$work/$name/install.sh" <<'INSTALL'
#!/bin/sh
# Install syncd without a network: ./install.sh [PREFIX]   (default /opt/syncd)
# Needs the Python version this bundle was built for, with its venv module.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-/opt/syncd}
python=${PYTHON:-python3}
"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install --no-index --find-links "$here/wheels" "$(sed -n 4p "$here/BUNDLE")"
"$prefix/bin/syncd" --version
echo "installed: $prefix/bin/syncd   next: $prefix/bin/syncd init /etc/syncd (see docs/operations.md)"
INSTALL
chmod 755 "$work/$name/install.sh"
printf '%s\n' "$version" "$platform" "$pyver" "$requirement" >"$work/$name/BUNDLE"
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
log "$(ls "$wheels" | wc -l) wheels"
printf '%s\n' "$(cd "$out" && pwd)/$name.tar.gz"

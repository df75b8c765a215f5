# shellcheck shell=bash
# Shared by the .ci/*-check.sh scripts (sourced, not run). Each script sets NAME first.
#
# PYSOCK2_CACHE (default ~/.cache/pysock2) holds what is slow to fetch and safe to reuse:
# tool venvs keyed by their pinned requirements, the Windows CPython headers.
CACHE="${PYSOCK2_CACHE:-$HOME/.cache/pysock2}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$CACHE"

# Each line carries the seconds since the script started.
log() { printf '[%s %3ss] %s\n' "$NAME" "$SECONDS" "$*"; }

# apt_install PACKAGE...: installs the Debian packages (root, Debian 12), once.
apt_install() {
    log "apt-get install $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A Debian python3 needs python3-venv for `-m venv`, and python3-dev plus a C compiler to
# build the extension; other Pythons (pyenv, python.org) bring their own.
ensure_python() {
    local need=()
    "$PYTHON" -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
    if [ "${1:-}" = build ]; then
        command -v cc >/dev/null || need+=(gcc libc6-dev)
        "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
            || need+=(python3-dev)
    fi
    if [ "${#need[@]}" -gt 0 ]; then
        apt_install "${need[@]}"
    fi
}

# tool_venv DIR REQUIREMENT...: a venv at DIR with exactly these pinned requirements;
# rebuilt only when the pins change.
tool_venv() {
    local dir="$1"
    shift
    if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$*" ]; then
        return
    fi
    log "installing $* into $dir"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
    echo "$*" >"$dir/.installed"
}

# wheel_cache DIR PYTHON REQUIREMENT...: wheels for these requirements (and their
# dependencies) downloaded into DIR by PYTHON's pip; again only when the list changes.
wheel_cache() {
    local dir="$1" python="$2"
    shift 2
    if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$*" ]; then
        return
    fi
    log "downloading $* into $dir"
    rm -rf "$dir"
    "$python" -m pip download -q --disable-pip-version-check --only-binary :all: -d "$dir" "$@"
    echo "$*" >"$dir/.complete"
}

# Shared by the hardening scripts (.ci/version-matrix.sh, free-threaded.sh, debug-python.sh,
# sanitizers.sh, fuzz.sh); sourced, not run. Each script sets NAME before sourcing it.
#
# PYSOCK2_CACHE (default ~/.cache/pysock2) keeps what is slow to make and safe to reuse:
# the CPython source tarball and the CPython builds made from it. Everything else happens
# in a temporary directory removed on exit, so the scripts are idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PYSOCK2_CACHE:-$HOME/.cache/pysock2}"
PYTHON="${PYTHON:-python3}"
JOBS="$(nproc 2>/dev/null || echo 2)"
mkdir -p "$CACHE"

log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { printf '[%s] FAILED: %s\n' "$NAME" "$*" >&2; exit 1; }

# Every script reports its own duration, whatever way it ends.
_harden_started=$SECONDS
_harden_report() {
    local rc="$1"
    log "$( [ $rc -eq 0 ] && echo OK || echo "FAILED (exit $rc)" ) after $((SECONDS - _harden_started)) s"
}
# A scratch directory, removed on exit.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pysock2-$NAME.XXXXXX")"
trap 'rc=$?; rm -rf "$TMP"; _harden_report $rc' EXIT

# apt_install PACKAGE...: installs the Debian packages that are not installed yet (root).
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# make_venv PYTHON DIR: a fresh venv in which pysock2 can be built (a Debian python3
# needs python3.X-venv for the venv and python3.X-dev for Python.h).
make_venv() {
    local py="$1" dir="$2" ver
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    "$py" -c 'import ensurepip' 2>/dev/null || apt_install "python$ver-venv"
    "$py" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || apt_install "python$ver-dev"
    command -v gcc >/dev/null || apt_install gcc libc6-dev
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
}

# install_pysock2 VENV [NAME=VALUE...]: builds and installs this checkout into VENV the
# way a user would, with -Werror, plus what the test suite imports. The NAME=VALUE pairs
# go to the build's environment (PYSOCK2_SANITIZE=...). PYSOCK2_INSTALL_EXTRAS=0 installs
# pytest and hypothesis instead of the [test] extra: mypy (in [test], needed by no test)
# has no wheel for free-threaded or debug interpreters and its Rust parts cannot be built
# offline.
install_pysock2() {
    local venv="$1"
    shift
    # A copy, so that no build/ or egg-info from the checkout leaks in or out.
    rm -rf "$TMP/src"
    mkdir -p "$TMP/src"
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$TMP/src")
    else  # not a git checkout (an unpacked sdist): everything but build products
        (cd "$ROOT" && tar --exclude=./build --exclude='*.so' --exclude='*.egg-info' -cf - .) | tar -xf - -C "$TMP/src"
    fi
    local what=("$TMP/src[test]")
    [ "${PYSOCK2_INSTALL_EXTRAS:-1}" = 1 ] || what=("$TMP/src" pytest hypothesis)
    # --prefer-binary: where a dependency's newest release is only an sdist for this
    # interpreter (hypothesis' Rust core on 3.13t), take the newest release with a wheel.
    env PYSOCK2_WERROR=1 "$@" "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --prefer-binary --no-cache-dir "${what[@]}" >"$TMP/pip.log" 2>&1 \
        || { cat "$TMP/pip.log" >&2; die "pip install ${what[*]} into $venv"; }
}

# suite_dir, assert_installed_copy: the suite against the installed copy (shared with
# wheel-check.sh).
# shellcheck source=suite-lib.sh
. "$ROOT/.ci/suite-lib.sh"

# ---------------------------------------------------------------- CPython from source

# The CPython 3.13 tarball from Debian trixie's python3.13 source package (the upstream
# .orig tarball, verified by apt against trixie's signed Release file; PyPI and Debian are
# all a CI machine may reach). Prints its path; cached under $CACHE/src.
cpython_tarball() {
    local src="$CACHE/src" tarball
    mkdir -p "$src"
    tarball="$(ls "$src"/Python-3.13.*.tar.xz 2>/dev/null | sort -V | tail -1 || true)"
    if [ -n "$tarball" ]; then
        echo "$tarball"
        return
    fi
    log "fetching the CPython 3.13 source (apt-get source python3.13/trixie)"
    local apt="$TMP/apt"
    mkdir -p "$apt/lists/partial" "$apt/dl"
    echo "deb-src http://deb.debian.org/debian trixie main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
                -o "Dir::State::Lists=$apt/lists" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" update -qq >/dev/null
    (cd "$apt/dl" && apt-get "${opts[@]}" source --download-only -qq python3.13/trixie >/dev/null)
    local orig
    orig="$(ls "$apt"/dl/python3.13_3.13.*.orig.tar.xz | head -1)" || die "no python3.13 orig tarball"
    local version="${orig##*/python3.13_}"
    version="${version%.orig.tar.xz}"
    cp "$orig" "$src/Python-$version.tar.xz.part"
    mv "$src/Python-$version.tar.xz.part" "$src/Python-$version.tar.xz"
    echo "$src/Python-$version.tar.xz"
}

# build_cpython VARIANT: CPython 3.13 configured for VARIANT (freethreaded: --disable-gil;
# debug: --with-pydebug), installed under $CACHE/python-3.13<suffix> and reused when it is
# already there. Prints the interpreter's path. About 2-4 minutes on 2 cores.
build_cpython() {
    local variant="$1" suffix flags
    case "$variant" in
        freethreaded) suffix=t; flags=(--disable-gil) ;;
        debug) suffix=d; flags=(--with-pydebug) ;;
        *) die "build_cpython: unknown variant $variant" ;;
    esac
    local prefix="$CACHE/python-3.13$suffix" python
    python="$prefix/bin/python3.13$suffix"
    if [ -x "$python" ] && [ -f "$prefix/.pysock2-complete" ] && "$python" -c 'import ssl, zlib' 2>/dev/null; then
        log "reusing $("$python" -VV | head -1) from $prefix"
        echo "$python"
        return
    fi
    apt_install build-essential libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev \
        libsqlite3-dev libreadline-dev uuid-dev xz-utils
    local tarball
    tarball="$(cpython_tarball)"
    log "building $(basename "$tarball") (${flags[*]}) into $prefix with $JOBS jobs"
    rm -rf "$prefix" "$TMP/cpython"
    mkdir -p "$TMP/cpython"
    tar -xJf "$tarball" -C "$TMP/cpython" --strip-components=1
    (
        cd "$TMP/cpython"
        # No test modules: they are a third of the install's byte-compiling time.
        ./configure -q --prefix="$prefix" --disable-test-modules "${flags[@]}" >"$TMP/configure.log" 2>&1 \
            || { tail -50 "$TMP/configure.log" >&2; exit 1; }
        make -s -j"$JOBS" >"$TMP/make.log" 2>&1 || { tail -50 "$TMP/make.log" >&2; exit 1; }
        make -s install >"$TMP/install.log" 2>&1 || { tail -50 "$TMP/install.log" >&2; exit 1; }
    ) || die "building CPython ($variant)"
    # python3.13t exists only for the free-threaded build; make the name uniform.
    [ -x "$python" ] || ln -sf python3.13 "$python"
    "$python" -c 'import ssl, zlib' || die "the $variant CPython lacks ssl or zlib (pip needs them)"
    touch "$prefix/.pysock2-complete"
    log "built $("$python" -VV | head -1)"
    echo "$python"
}

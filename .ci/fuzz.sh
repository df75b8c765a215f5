#!/usr/bin/env bash
# Coverage-guided fuzzing (atheris = libFuzzer for Python) of the four surfaces that take
# untrusted input, against an ASan+UBSan build of pysock2, for a fixed number of executions
# per target (10^5 by default; two targets at a time on two cores):
#
#   sockaddr_from_bytes  SockAddr.from_bytes of raw bytes, then every accessor
#   address_like         SockAddr(x) for tuples/paths/ipaddress objects, valid or not
#   option_setters       random values of random types into every setter of real sockets
#   control_messages     pysock2.cmsg.parse and the typed parse_* (skipped until it exists)
#
#   PYSOCK2_FUZZ_RUNS=100000 PYTHON=python3.11 .ci/fuzz.sh
#
# PYSOCK2_FUZZ_MAX_SECONDS (default 900) caps each target's time; a target that reaches it
# before its executions fails the run (a target that slow needs to be made faster).
#
# A crash (a sanitizer report, or a target raising) fails the run; its input is copied
# into fuzz/regressions/<target>/ so that committing it makes tests/test_fuzz_regressions.py
# replay it forever. The corpus grows across runs under $PYSOCK2_CACHE/fuzz-corpus.
NAME=fuzz
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"
. "$ROOT/.ci/sanitizer-env.sh"

RUNS="${PYSOCK2_FUZZ_RUNS:-100000}"
MAX_SECONDS="${PYSOCK2_FUZZ_MAX_SECONDS:-900}"
ATHERIS="atheris>=3.0,<4"   # binary only: building it needs clang; 3.0/3.1 have wheels for 3.9-3.13
apt_install gcc libc6-dev
make_venv "$PYTHON" "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=atheris "$ATHERIS" \
    || die "pip install $ATHERIS (no wheel for $("$PYTHON" -V)?)"
# trace-cmp: the extension reports its comparisons to libFuzzer, which with
# -use_value_profile=1 counts new compared values as progress (gcc has no edge coverage
# of the kind libFuzzer reads; atheris instruments the Python side for edges).
install_pysock2 "$TMP/venv" PYSOCK2_SANITIZE=address,undefined CFLAGS="-fsanitize-coverage=trace-cmp $NO_WRAPV"

# gcc's libasan must be preloaded (the interpreter is not instrumented), but it defines
# weak no-op __sanitizer_cov_* callbacks that would shadow libFuzzer's and blind it to
# coverage. fuzz/sancov_shim.c, preloaded first, forwards them to atheris' libFuzzer.
# (atheris still warns that "coverage symbols are provided by another library": the
# shim is that library, and the corpus growing is the proof that coverage flows.)
gcc -O2 -shared -fPIC -o "$TMP/sancov_shim.so" "$ROOT/fuzz/sancov_shim.c" -ldl
PYSOCK2_FUZZ_CORE="$(ls "$TMP"/venv/lib/python*/site-packages/atheris/core_with_libfuzzer*.so)"
export PYSOCK2_FUZZ_CORE

fuzz_env() {
    sanitizer_env
    LD_PRELOAD="$TMP/sancov_shim.so $LD_PRELOAD"
    ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
}

# The targets this build can run (control_messages needs pysock2.cmsg); the others are
# reported as skipped, with the reason.
summary=()
TARGETS=()
while IFS=$'\t' read -r target why_not; do
    if [ -n "$why_not" ]; then
        summary+=("$target: skipped: $why_not")
    else
        TARGETS+=("$target")
    fi
done < <(cd "$TMP" && fuzz_env && "$TMP/venv/bin/python" "$ROOT/fuzz/run.py" --list 2>/dev/null | grep -v '^INFO')
[ "${#TARGETS[@]}" -gt 0 ] || die "no fuzz target can run (does pysock2 import under ASan?)"

# fuzz_one TARGET: RUNS executions; writes its summary line to $TMP/TARGET.result and
# returns non-zero on a crash, a sanitizer report or too few executions.
fuzz_one() {
    local target="$1" corpus="$CACHE/fuzz-corpus/$1" seeds="$ROOT/fuzz/regressions/$1"
    mkdir -p "$corpus" "$TMP/crash-$target"
    local dirs=("$corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    local rc=0 started=$SECONDS
    (
        cd "$TMP"  # nothing the targets do may touch the checkout
        fuzz_env
        "$TMP/venv/bin/python" "$ROOT/fuzz/run.py" "$target" \
            -runs="$RUNS" -max_total_time="$MAX_SECONDS" -timeout=20 -rss_limit_mb=4096 \
            -max_len=512 -use_value_profile=1 \
            -print_final_stats=1 -artifact_prefix="$TMP/crash-$target/" \
            "${dirs[@]}" || exit
        times >"$TMP/$target.cpu"  # line 2: the fuzzer's CPU time (not piped: a fork counts none)
    ) >"$TMP/$target.log" 2>&1 || rc=$?
    local took=$((SECONDS - started)) execs reports crashes
    execs="$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$TMP/$target.log" | grep -oE '[0-9]+$' || echo 0)"
    reports="$(grep -cE "$SANITIZER_REPORT" "$TMP/$target.log" || true)"
    crashes=("$TMP/crash-$target"/*)
    if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ] || [ -e "${crashes[0]}" ]; then
        tail -60 "$TMP/$target.log" >&2
        mkdir -p "$seeds"
        for crash in "${crashes[@]}"; do
            [ -e "$crash" ] || continue
            cp "$crash" "$seeds/"
            log "saved the failing input as fuzz/regressions/$target/$(basename "$crash"): commit it with the fix"
        done
        echo "$target: FAILED (exit $rc, $reports sanitizer report lines) after $execs executions" >"$TMP/$target.result"
        return 1
    fi
    # libFuzzer counts the corpus inputs it replays first as executions too.
    if [ "$execs" -lt "$RUNS" ]; then
        echo "$target: FAILED: only $execs of $RUNS executions in ${MAX_SECONDS} s" >"$TMP/$target.result"
        return 1
    fi
    echo "$target: $execs executions in $took s (CPU user/sys: $(tail -1 "$TMP/$target.cpu")), 0 crashes, 0 sanitizer reports, corpus $(ls "$corpus" | wc -l) inputs" >"$TMP/$target.result"
}

log "${#TARGETS[@]} targets x $RUNS executions under ASan+UBSan, $JOBS at a time"
for target in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    fuzz_one "$target" &
done
wait || true
status=0
for target in "${TARGETS[@]}"; do
    [ -f "$TMP/$target.result" ] || echo "$target: FAILED: no result" >"$TMP/$target.result"
    grep -q FAILED "$TMP/$target.result" && status=1
    summary+=("$(cat "$TMP/$target.result")")
done
for line in "${summary[@]}"; do log "$line"; done
[ "$status" -eq 0 ] || die "a fuzz target failed"

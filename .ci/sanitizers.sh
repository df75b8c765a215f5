#!/usr/bin/env bash
# The whole test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the
# extension, built outside the source tree so the regular build stays as it is. Fails on any
# sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

mkdir -p "$out/lib/pysock2"
cp pysock2/*.py pysock2/*.pyi pysock2/py.typed "$out/lib/pysock2/"
PYSOCK2_SANITIZE=address,undefined python setup.py -q build_ext --force \
    --build-lib "$out/lib" --build-temp "$out/tmp" >/dev/null

# CPython's own allocations are not freed at exit, so leak detection stays off; every other
# ASan/UBSan finding aborts the test process.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_init_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONPATH="$out/lib"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
loaded=$(cd "$out" && python -c "import pysock2._pysock2 as m; print(m.__file__)")
case "$loaded" in
    "$out"/*) echo "testing the sanitized build: $loaded" ;;
    *) echo "expected the sanitized build, got $loaded" >&2; exit 1 ;;
esac
tests=$PWD/tests
log="$out/log"
set +e
(cd "$out" && python -m pytest -q -p no:cacheprovider -c /dev/null --rootdir "$out" \
    -W error::ResourceWarning "$tests") >"$log" 2>&1
status=$?
set -e
unset LD_PRELOAD
tail -n 5 "$log"
if grep -qE "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$log"; then
    grep -nE -A 30 "ERROR: AddressSanitizer|runtime error:" "$log" | head -n 80
    echo "sanitizer report(s) found" >&2
    exit 1
fi
python - "$out/lib" <<'PY'
import sys
from pathlib import Path
so = next(Path(sys.argv[1], "pysock2").glob("_pysock2*.so"))
assert b"__asan" in so.read_bytes(), "the sanitized build is not instrumented"
PY
exit $status

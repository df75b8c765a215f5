# The environment for running CPython with an ASan+UBSan build of pysock2 (sourced by
# sanitizers.sh and fuzz.sh). gcc's runtimes are preloaded because the interpreter itself
# is not instrumented: ASan must be the first library loaded.
#
# ASAN_OPTIONS, and why:
#  detect_leaks=0        CPython keeps interned strings, static types and module state until
#                        exit on purpose; LeakSanitizer would report thousands of those.
#                        pysock2's own leaks are measured by tests/test_leaks.py instead
#                        (descriptors, tracemalloc, sys.gettotalrefcount on a debug build).
#  allocator_may_return_null=1   a huge request (recv(2**40)) must become MemoryError, as
#                        it does without ASan, not an ASan abort.
#  halt_on_error=1       the first report ends the process with exit status 1 (not abort:
#                        libFuzzer's death callback must get to save the crashing input).
#  detect_stack_use_after_return=0     CPython's own frames make it slow and noisy.
# PYTHONMALLOC=malloc sends every Python object through malloc, so that ASan also checks
# reads and writes past the end of bytes/bytearray objects the extension fills.
# UBSAN_OPTIONS: stop at the first undefined behaviour, with a stack trace.
#
# sanitizer_env [gcc|clang] [REPORT_DIR]: which compiler's runtime to preload (the one the
# extension was built with; clang is clang-14, built with -shared-libasan, whose ASan
# runtime carries the UBSan handlers too). With REPORT_DIR, every report of every process
# (subprocesses too, and reports pytest's output capture would swallow when the process
# halts) is written to REPORT_DIR/{asan,ubsan}.<pid>: any file there is a failure.
sanitizer_env() {
    local cc="${1:-gcc}" reports="${2:-}" asan ubsan
    if [ "$cc" = clang ]; then
        asan="$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)"
        [ -f "$asan" ] || die "clang-14's shared ASan runtime not found (libclang-rt-14-dev)"
        export LD_PRELOAD="$asan"
    else
        asan="$(gcc -print-file-name=libasan.so)"
        ubsan="$(gcc -print-file-name=libubsan.so)"
        [ -f "$asan" ] && [ -f "$ubsan" ] || die "gcc's libasan/libubsan not found"
        export LD_PRELOAD="$asan $ubsan"
    fi
    export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:detect_stack_use_after_return=0:print_summary=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    if [ -n "$reports" ]; then
        mkdir -p "$reports"
        ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/asan"
        UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/ubsan"
    fi
    export PYTHONMALLOC=malloc
}

# sanitizer_reports REPORT_DIR: prints the reports written there (and how many); fails if any.
sanitizer_reports() {
    local files=("$1"/*)
    [ -e "${files[0]}" ] || return 0
    for f in "${files[@]}"; do
        log "sanitizer report $(basename "$f"):"
        head -40 "$f" >&2
    done
    return 1
}

# Extra CFLAGS for every sanitizer build. CPython compiles extensions with its own CFLAGS,
# which include -fwrapv: signed overflow then wraps by definition and UBSan's
# signed-integer-overflow check is compiled out (issue 10 item 5, `usec * 1000` in
# connect_timeout, went unreported by both gcc and clang for that reason). -fno-wrapv comes
# later on the command line and wins: pysock2 must not rely on signed wraparound.
NO_WRAPV=-fno-wrapv

# The markers of a sanitizer report in a log.
SANITIZER_REPORT='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|Undefined)'

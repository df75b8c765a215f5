#!/usr/bin/env bash
# Validates the CI configuration offline:
#  1. .github/workflows/*.yml against the GitHub workflow schema (check-jsonschema);
#  2. [tool.cibuildwheel] of pyproject.toml against cibuildwheel's own schema;
#  3. the wheels cibuildwheel would build on Linux, macOS and Windows
#     (--print-build-identifiers; no Docker needed): every expected identifier must be
#     there, and nothing else.
#
# Needs: Python >= 3.11 (cibuildwheel 4) as $PYTHON (default python3) and PyPI. Idempotent:
# the tools live in a venv under $PYSOCK2_CACHE (default ~/.cache/pysock2), reused.
set -euo pipefail

NAME="workflows-check"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$ROOT/.ci/lib.sh"
# Keep in step with pypa/cibuildwheel@v... in .github/workflows/wheels.yml.
TOOLS=(cibuildwheel==4.3.5 check-jsonschema==0.39.0)
VENV="$CACHE/ci-tools-venv"

# What [tool.cibuildwheel] must produce: CPython 3.9-3.15 and the free-threaded 3.14t/3.15t,
# per platform and the architectures the wheels.yml runners build.
PYTHONS=(cp39 cp310 cp311 cp312 cp313 cp314 cp314t cp315 cp315t)
declare -A PLATFORMS=(
    [linux]="manylinux_x86_64 manylinux_aarch64 musllinux_x86_64 musllinux_aarch64"
    [macos]="macosx_x86_64 macosx_arm64"
    [windows]="win_amd64 win32 win_arm64"
)
declare -A ARCHS=([linux]="x86_64 aarch64" [macos]="x86_64 arm64" [windows]="AMD64 x86 ARM64")

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { log "FAILED: cibuildwheel 4 needs Python >= 3.11; set PYTHON"; exit 1; }
ensure_python
tool_venv "$VENV" "${TOOLS[@]}"
cd "$ROOT"

"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
workflows=(.github/workflows/*.yml)
log "workflows valid: ${workflows[*]##*/}"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
SCHEMA="$("$VENV/bin/python" -c 'import cibuildwheel, pathlib; print(pathlib.Path(cibuildwheel.__file__).parent / "resources" / "cibuildwheel.schema.json")')"
"$VENV/bin/python" -c 'import json, sys, tomllib
print(json.dumps(tomllib.load(open("pyproject.toml", "rb"))["tool"]["cibuildwheel"]))' >"$TMP/cibuildwheel.json"
"$VENV/bin/check-jsonschema" --schemafile "$SCHEMA" "$TMP/cibuildwheel.json"
log "[tool.cibuildwheel] valid for ${TOOLS[0]}"

status=0
for platform in linux macos windows; do
    CIBW_ARCHS="${ARCHS[$platform]}" "$VENV/bin/cibuildwheel" --platform "$platform" \
        --print-build-identifiers "$ROOT" | sort >"$TMP/$platform.actual"
    for py in "${PYTHONS[@]}"; do
        for tag in ${PLATFORMS[$platform]}; do
            echo "$py-$tag"
        done
    done | sort >"$TMP/$platform.expected"
    echo "== $platform ($(wc -l <"$TMP/$platform.actual") wheels)"
    column -c 100 "$TMP/$platform.actual" 2>/dev/null || cat "$TMP/$platform.actual"
    missing="$(comm -23 "$TMP/$platform.expected" "$TMP/$platform.actual")"
    extra="$(comm -13 "$TMP/$platform.expected" "$TMP/$platform.actual")"
    if [ -n "$missing" ]; then
        log "MISSING on $platform: $(tr '\n' ' ' <<<"$missing")"
        status=1
    fi
    if [ -n "$extra" ]; then
        log "UNEXPECTED on $platform: $(tr '\n' ' ' <<<"$extra")"
        status=1
    fi
done
if [ "$status" = 0 ]; then
    log "OK: every expected build identifier is listed"
else
    log "FAILED"
fi
exit "$status"

#!/usr/bin/env bash
# Smoke-test the built bundle. The CLI builds the demo workspace, calculates a quarter and
# renders its PDF statements twice in worker processes (spawned copies of the bundled
# executable), then checks that the files are identical and verifies the audit trail.
# The GUI opens that workspace offscreen and exits on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=dist/spm-desktop
WORK=$(mktemp -d)
export QT_QPA_PLATFORM=offscreen SPM_LOG_DIR="$WORK/logs" SPM_USER=smoke
"$BUNDLE/spm" --version
"$BUNDLE/spm" demo "$WORK/demo.spm"
"$BUNDLE/spm" calc "$WORK/demo.spm" --period 2017-Q3
for run in first second; do
    "$BUNDLE/spm" statements "$WORK/demo.spm" --period 2017-Q3 --format pdf --processes 2 --out "$WORK/$run"
done
test "$(ls "$WORK/first" | wc -l)" -gt 24
diff -r "$WORK/first" "$WORK/second"
"$BUNDLE/spm" audit verify "$WORK/demo.spm"
SPM_DESKTOP_QUIT_AFTER_MS=4000 "$BUNDLE/spm-desktop" "$WORK/demo.spm"
grep -q "opened workspace" "$WORK/logs/spm-desktop.log"
echo "smoke test passed"

#!/usr/bin/env bash
# Install SPM Desktop, build the demo workspace on first use, and open it.
# Without a display, the window opens on a virtual screen (Xvfb) that is not shown
# anywhere. Set DISPLAY to use your own screen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DEMO="${SPM_DEMO_WORKSPACE:-$HOME/spm-demo.spm}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/spm-desktop --demo "$DEMO"
fi
echo "no display found: starting the app under Xvfb (set DISPLAY to use your own screen)"
exec xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/spm-desktop --demo "$DEMO"

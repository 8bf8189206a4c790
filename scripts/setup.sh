#!/usr/bin/env bash
# Install SPM Desktop into .venv with the Debian libraries Qt needs for a real window.
# Usage: bash scripts/setup.sh [--offscreen-only]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
PACKAGES="libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
  fonts-dejavu-core poppler-utils"
if [ "${1:-}" != "--offscreen-only" ]; then
  # A real window on X11 (or under Xvfb) needs the xcb platform plugin's libraries.
  PACKAGES="$PACKAGES xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1 libxkbcommon-x11-0"
fi
if command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -d .venv ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "installed: .venv/bin/spm-desktop and .venv/bin/spm"

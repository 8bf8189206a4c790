#!/usr/bin/env bash
# Build the macOS one-folder bundle (run on macOS from the repository root).
set -euo pipefail
python3.11 -m venv .venv
.venv/bin/python -m pip install -e ".[installer]"
.venv/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller installer/spm_desktop.spec
ditto -c -k --keepParent dist/spm-desktop "dist/spm-desktop-macos-$(uname -m).zip"

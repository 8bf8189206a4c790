#!/usr/bin/env bash
# The test command: lint, layer contracts, then the whole pytest suite offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
ruff check .
lint-imports
python -m pytest -q "$@"

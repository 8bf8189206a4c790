#!/usr/bin/env bash
# Build the Linux one-folder bundle and a tarball holding it and the .desktop file.
# Output: dist/spm-desktop/ and dist/spm-desktop-<version>-linux-<arch>.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
python -m pip install -q "pyinstaller>=6.5"
VERSION=$(python -c "import spm_desktop; print(spm_desktop.__version__)")
pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller installer/spm_desktop.spec
cp installer/spm-desktop.desktop dist/spm-desktop/
TARBALL="dist/spm-desktop-${VERSION}-linux-$(uname -m).tar.gz"
tar -C dist -czf "$TARBALL" spm-desktop
du -sh dist/spm-desktop "$TARBALL"

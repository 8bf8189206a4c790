# Build the Windows one-folder bundle (run on Windows from the repository root).
$ErrorActionPreference = "Stop"
py -3.11 -m venv .venv
.venv\Scripts\python -m pip install -e ".[installer]"
.venv\Scripts\pyinstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller installer\spm_desktop.spec
Compress-Archive -Path dist\spm-desktop -DestinationPath dist\spm-desktop-windows.zip -Force

"""Where the import tests find their copies of real files."""

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
MAVEN = DATA / "maven-crm"
SUPERSTORE = DATA / "import" / "superstore" / "Sample - Superstore.xls"
ADVENTUREWORKS = DATA / "import" / "adventureworks"

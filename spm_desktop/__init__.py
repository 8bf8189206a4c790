"""SPM Desktop: sales compensation and performance administration on a local workspace."""

__version__ = "0.1.0"
APP_NAME = "SPM Desktop"
ORG_NAME = "SPM Desktop"

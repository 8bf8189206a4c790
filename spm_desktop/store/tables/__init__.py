"""SQLAlchemy Core tables of the workspace, one module per area, on one MetaData.

Money columns are integers: imported amounts in 1/10,000 units (suffix ``_e4``),
calculated money in the currency's minor unit (suffix ``_minor``). Exact decimals that
are not money (shares, FX rates, attainment) are stored as text.
"""

from spm_desktop.store.tables.base import metadata

# Importing the area modules registers their tables on ``metadata``.
from spm_desktop.store.tables import core  # noqa: F401  (registers tables)
from spm_desktop.store.tables import records  # noqa: F401
from spm_desktop.store.tables import metrics  # noqa: F401
from spm_desktop.store.tables import calc  # noqa: F401
from spm_desktop.store.tables import close  # noqa: F401
from spm_desktop.store.tables import statements  # noqa: F401
from spm_desktop.store.tables import scenarios  # noqa: F401
from spm_desktop.store.tables import tieout  # noqa: F401

__all__ = ["metadata"]

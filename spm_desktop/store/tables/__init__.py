"""SQLAlchemy Core tables of the workspace, one module per area, on one MetaData.

Money columns are integers: imported amounts in 1/10,000 units (suffix ``_e4``),
calculated money in the currency's minor unit (suffix ``_minor``). Exact decimals that
are not money (shares, FX rates, attainment) are stored as text.
"""

# Importing the area modules registers their tables on ``metadata``.
from spm_desktop.store.tables import (
    calc,  # noqa: F401
    close,  # noqa: F401
    core,  # noqa: F401  (registers tables)
    metrics,  # noqa: F401
    records,  # noqa: F401
    scenarios,  # noqa: F401
    statements,  # noqa: F401
    tieout,  # noqa: F401
)
from spm_desktop.store.tables.base import metadata

__all__ = ["metadata"]

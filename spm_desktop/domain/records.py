"""Record sets: the canonical fields of every kind of imported record.

This table is the one contract between the importer, the workspace tables, metric
filters, the calculation engine and ``spm data export``: field names, their kinds and
which fields are required. A record set's frame (a pandas DataFrame) has one column per
field, in this order, followed by the extra attributes that the mapping did not name.

Column kinds in a frame:

* ``id`` and ``text``: Python ``str`` (or ``None``). Identifiers stay text, so leading
  zeros survive.
* ``money``: integer counts of 1/10,000 of the currency unit (see ``money.RECORD_SCALE``)
  in a pandas nullable ``Int64`` column.
* ``decimal``: ``decimal.Decimal`` objects (shares, rates, quantities).
* ``date``: ``datetime64[ns]`` at midnight; ``datetime``: ``datetime64[ns]``.
* ``integer``: pandas nullable ``Int64``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["id", "text", "money", "decimal", "date", "datetime", "integer"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordSetSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    # Fields that identify a record: re-importing a row with the same key updates it.
    natural_key: tuple[str, ...]
    description: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields if field.required)

    def field(self, name: str) -> FieldSpec:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"record set {self.name!r} has no field {name!r}")


def _f(name: str, kind: FieldKind, required: bool = False, choices: tuple[str, ...] = ()) -> FieldSpec:
    return FieldSpec(name, kind, required, choices)


DEAL_TYPES = ("sale", "refund", "credit_note", "cancellation")
REVERSAL_TYPES = ("refund", "credit_note", "cancellation")
SPLIT_KINDS = ("split", "overlay")
RATE_TYPES = ("average", "end_of_day")
# Dates that calculations can hold: pandas timestamps reach 1677-09-21 to 2262-04-11, and
# whole years are easier to state. The importer rejects other dates.
FIRST_USABLE_YEAR = 1678
LAST_USABLE_YEAR = 2261
# Amounts are stored as 1/10,000 units in a signed 64-bit integer, so 14 integer digits fit.
MAX_RECORD_UNITS = 10**18

RECORD_SETS: dict[str, RecordSetSpec] = {
    spec.name: spec
    for spec in (
        RecordSetSpec(
            "participants",
            (
                _f("participant_id", "id", True), _f("name", "text", True), _f("role", "text"),
                _f("manager_id", "id"), _f("region", "text"), _f("territory", "text"),
                _f("hire_date", "date"), _f("termination_date", "date"), _f("currency", "text"),
                _f("ote", "money"), _f("target_incentive", "money"), _f("payroll_id", "id"),
                _f("email", "text"),
            ),
            ("participant_id",),
            "People who are paid or measured: sellers, managers, overlays.",
        ),
        RecordSetSpec(
            "hierarchy",
            (
                _f("participant_id", "id", True), _f("manager_id", "id"), _f("territory", "text"),
                _f("start_date", "date", True), _f("end_date", "date"),
            ),
            ("participant_id", "start_date"),
            "Effective-dated manager and territory assignments; end_date is inclusive.",
        ),
        RecordSetSpec(
            "deals",
            (
                _f("deal_id", "id", True), _f("line_id", "id"), _f("owner", "id", True),
                _f("amount", "money"), _f("currency", "text"), _f("close_date", "date"),
                _f("created_date", "date"), _f("stage", "text"), _f("product", "text"),
                _f("customer", "text"), _f("type", "text", choices=DEAL_TYPES),
                _f("reference_deal_id", "id"), _f("quantity", "decimal"), _f("cost", "money"),
            ),
            ("deal_id", "line_id", "type"),
            "Deals, orders, invoice lines and CRM opportunities, with refunds and credit notes.",
        ),
        RecordSetSpec(
            "credit_splits",
            (
                _f("deal_id", "id", True), _f("participant_id", "id", True),
                _f("share", "decimal", True), _f("kind", "text", True, SPLIT_KINDS),
            ),
            ("deal_id", "participant_id", "kind"),
            "Split and overlay credit rows for deals.",
        ),
        RecordSetSpec(
            "quotas",
            (
                _f("participant_id", "id", True), _f("quota_key", "id", True),
                _f("period", "text", True), _f("amount", "money", True), _f("currency", "text"),
            ),
            ("participant_id", "quota_key", "period"),
            "Quotas per participant, quota key and period label.",
        ),
        RecordSetSpec(
            "stage_history",
            (
                _f("deal_id", "id", True), _f("changed_at", "datetime", True), _f("stage", "text"),
                _f("forecast_category", "text"), _f("amount", "money"), _f("close_date", "date"),
            ),
            ("deal_id", "changed_at"),
            "Dated stage and forecast-category changes of opportunities.",
        ),
        RecordSetSpec(
            "activities",
            (
                _f("participant_id", "id", True), _f("date", "date", True), _f("type", "text", True),
                _f("count", "integer"), _f("deal_id", "id"),
            ),
            (),
            "Meetings, calls, emails and demos per participant and day.",
        ),
        RecordSetSpec(
            "fx_rates",
            (
                _f("date", "date", True), _f("from_currency", "text", True),
                _f("to_currency", "text", True), _f("rate", "decimal", True),
                _f("rate_type", "text", choices=RATE_TYPES),
            ),
            ("date", "from_currency", "to_currency", "rate_type"),
            "Dated exchange rates: units of to_currency for one unit of from_currency.",
        ),
        RecordSetSpec(
            "adjustments",
            (
                _f("participant_id", "id", True), _f("period", "text", True),
                _f("amount", "money", True), _f("currency", "text"),
                _f("reason_code", "id", True), _f("note", "text"),
            ),
            (),
            "Manual payout adjustments with a reason code.",
        ),
    )
}

# A CRM pipeline export contains open, lost and won opportunities in one file.
RECORD_SET_ALIASES = {"opportunities": "deals"}


def record_set(name: str) -> RecordSetSpec:
    """Return the spec of a record set by name or alias, raising KeyError with the choices."""
    canonical = RECORD_SET_ALIASES.get(name, name)
    try:
        return RECORD_SETS[canonical]
    except KeyError:
        choices = ", ".join([*RECORD_SETS, *RECORD_SET_ALIASES])
        raise KeyError(f"unknown record set {name!r}; expected one of: {choices}") from None

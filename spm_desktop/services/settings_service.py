"""Workspace settings that an administrator can see and set: one registry of every known key.

Each setting is a JSON value under a dotted key in the workspace's ``settings`` table,
read by the service that uses it (statements, periods, metrics, review, tie-out,
signals). This module lists every known key with its label, type, default and
validator. It writes changes in one transaction with an audit entry per key:
``settings.set`` with the value before and after, or ``settings.reset`` when a stored
value is removed so that the default applies again.

The defaults here are the ones the reading services fall back on; they are imported
from those services where the services name them.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import struct
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, delete, select

from spm_desktop.domain import money
from spm_desktop.domain import review as review_domain
from spm_desktop.domain.canonical import canonical_json
from spm_desktop.domain.signals import SignalSettings
from spm_desktop.services import (
    metric_service,
    period_service,
    plan_service,
    review_service,
    signal_service,
    statement_service,
    tieout_service,
)
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import NotFoundError, PeriodLockedError, ValidationError
from spm_desktop.store.tables.core import settings as settings_table

log = logging.getLogger(__name__)

SET_ACTION = "settings.set"
RESET_ACTION = "settings.reset"
CURRENCY_SETTING = "currency"

# Groups in the order the settings dialog shows them.
GROUPS = ("Company and statements", "Fiscal year", "Metrics", "Review", "Tie-out", "Signals")

# Kinds of value. The settings dialog picks its editor by kind.
TEXT, OPTIONAL_TEXT, INTEGER, CHOICE, CURRENCY, NUMBER, NAME_LIST, TOLERANCE, IMAGE_PATH = (
    "text", "optional text", "integer", "choice", "currency", "number", "name list", "tolerance", "image path")

MAX_TEXT_LENGTH = 200
PAGE_SIZES = ("A4", "Letter")


class UnknownSettingError(NotFoundError):
    """The key names no setting that SPM Desktop reads."""


class InvalidSettingError(ValidationError):
    """A value that the setting does not allow, with a message that names the key, the value and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class SettingSpec:
    """One known setting: where it is stored, how people see it and which values it allows.

    ``parse`` turns text typed by a user, or a JSON value, into the value to store and
    raises InvalidSettingError otherwise. ``None`` from ``parse`` means "no value": the
    stored one is removed and the default applies.
    """

    key: str
    label: str
    group: str
    kind: str
    default: object
    help: str
    parse: Callable[[SettingSpec, object], object] = field(repr=False)
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettingValue:
    """A setting's value in one workspace: the stored value, else the default."""

    spec: SettingSpec
    value: object
    is_set: bool
    # Why the stored value is not valid any more (a logo file that was moved), else None.
    problem: str | None = None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def default(self) -> object:
        return self.spec.default

    @property
    def text(self) -> str:
        return display_text(self.spec, self.value)

    @property
    def default_text(self) -> str:
        return display_text(self.spec, self.spec.default)


# --- parsing user input --------------------------------------------------------------------------


def _invalid(spec: SettingSpec, value: object, allowed: str) -> InvalidSettingError:
    return InvalidSettingError(spec.key, f"invalid value {value!r} for setting {spec.key}: {allowed}")


def _parse_text(spec: SettingSpec, value: object) -> object:
    if not isinstance(value, str):
        raise _invalid(spec, value, "give text")
    text = value.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise _invalid(spec, f"{text[:40]}...", f"give at most {MAX_TEXT_LENGTH} characters")
    if any(unicodedata.category(character) in ("Cc", "Zl", "Zp") for character in text):
        raise _invalid(spec, value, "give one line of text without control characters")
    return text


def _parse_optional_text(spec: SettingSpec, value: object) -> object:
    if value is None:
        return None
    return _parse_text(spec, value) or None


def _parse_integer(spec: SettingSpec, value: object) -> object:
    allowed = f"give a whole number from {spec.minimum} to {spec.maximum}"
    if isinstance(value, bool):
        raise _invalid(spec, value, allowed)
    number = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise _invalid(spec, value, allowed) from None
    if not isinstance(number, int):
        raise _invalid(spec, value, allowed)
    if (spec.minimum is not None and number < spec.minimum) or (spec.maximum is not None and number > spec.maximum):
        raise _invalid(spec, value, allowed)
    return number


def _parse_page_size(spec: SettingSpec, value: object) -> object:
    # Statements also read "US Letter" and "A-4" as Letter and A4.
    normalised = str(value).strip().casefold().removeprefix("us ").replace("-", "")
    for choice in spec.choices:
        if choice.casefold() == normalised:
            return choice
    raise _invalid(spec, value, f"choose one of {', '.join(spec.choices)}")


def _parse_currency(spec: SettingSpec, value: object) -> object:
    text = str(value).strip().upper() if isinstance(value, str) else ""
    if len(text) != 3 or not text.isascii() or not text.isalpha():
        raise _invalid(spec, value, "give a three-letter ISO 4217 currency code such as USD or EUR")
    return text


def _parse_number(spec: SettingSpec, value: object) -> object:
    """Read a signal threshold; signals compare with binary floats, so the stored value is a JSON number."""
    allowed = "give a number of 0 or more, such as 0.75"
    if spec.maximum is not None:
        allowed = f"give a number from 0 to {spec.maximum}"
    try:
        number = float(money.to_decimal(value))
    except money.MoneyError:
        raise _invalid(spec, value, allowed) from None
    if not math.isfinite(number) or number < 0 or (spec.maximum is not None and number > spec.maximum):
        raise _invalid(spec, value, allowed)
    return number


def _parse_name_list(spec: SettingSpec, value: object) -> object:
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | tuple):
        names = [str(part).strip() for part in value]
    else:
        raise _invalid(spec, value, "give names separated by commas")
    names = [name for name in names if name]
    if not names:
        raise _invalid(spec, value, "give at least one name; separate names with commas")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise _invalid(spec, value, f"give each name once ({', '.join(duplicates)} repeats)")
    return names


def _parse_tolerance(spec: SettingSpec, value: object) -> object:
    allowed = "give an amount such as 0.01, a percentage such as 0.5%, or both separated by a comma"
    if isinstance(value, Mapping):
        try:
            absolute = money.to_decimal(str(value.get("absolute", "0")))
            relative = money.to_decimal(str(value.get("relative", "0")))
        except money.MoneyError:
            raise _invalid(spec, value, allowed) from None
    elif isinstance(value, str):
        try:
            absolute, relative = tieout_service.parse_tolerance(value)
        except ValidationError:
            raise _invalid(spec, value, allowed) from None
    else:
        raise _invalid(spec, value, allowed)
    if absolute < 0 or relative < 0:
        raise _invalid(spec, value, "a tolerance cannot be negative; " + allowed)
    return {"absolute": _plain_decimal(absolute), "relative": _plain_decimal(relative)}


def _plain_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _parse_image_path(spec: SettingSpec, value: object) -> object:
    """Keep the path as typed, because ``_check_file`` resolves it against the workspace's folder."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(spec, value, "give the path of a PNG or JPEG file")
    return value.strip() or None


# --- the registry ------------------------------------------------------------------------------


def _signal_specs() -> list[SettingSpec]:
    defaults = SignalSettings()
    specs = []
    for item in fields(SignalSettings):
        label, help_text = _SIGNAL_TEXTS[item.name]
        default = getattr(defaults, item.name)
        kind, parse, maximum = _signal_kind(item.name, default)
        if isinstance(default, tuple):
            default = list(default)
        specs.append(SettingSpec(signal_service.SETTING_PREFIX + item.name, label, "Signals", kind, default,
                                 help_text, parse, minimum=0, maximum=maximum))
    return specs


def _signal_kind(name: str, default: object) -> tuple[str, Callable[[SettingSpec, object], object], int | None]:
    if name == "quota_key":
        return OPTIONAL_TEXT, _parse_optional_text, None
    if isinstance(default, tuple):
        return NAME_LIST, _parse_name_list, None
    if isinstance(default, float):
        return NUMBER, _parse_number, 1 if name in _SHARE_SIGNALS else None
    if isinstance(default, int):
        # Each earlier period is another window of records to read, so the history stays short.
        return INTEGER, _parse_integer, 99 if name == "history_periods" else 9999
    return TEXT, _parse_text, None


# Signal settings that are fractions of a whole, so more than 1 has no meaning.
_SHARE_SIGNALS = frozenset({"stalled_share", "stall_quantile", "variable_share"})

_SIGNAL_TEXTS = {
    "segment": ("Peer group field", "Participant field that, together with the role, forms the peer groups."),
    "history_periods": ("Earlier periods compared", ("How many earlier periods of the same kind the current one is "
                        "compared with.")),
    "quota_key": ("Quota key", ("Quota key behind attainment; empty means the only key, else bookings, else the "
                  "first one.")),
    "open_stages": ("Open stages", "Open pipeline stages in pipeline order, separated by commas."),
    "won_stages": ("Won stages", "Stages that count as won, separated by commas."),
    "lost_stages": ("Lost stages", "Stages that count as lost, separated by commas."),
    "watched_categories": ("Watched forecast categories", ("Forecast categories whose deals are watched, separated "
                           "by commas.")),
    "behind_pace": ("Behind pace below", "Attainment or pipeline pace below this is behind pace."),
    "low_activity": ("Low activity below", "An activity index below this is low activity."),
    "weak_conversion": ("Weak conversion below", "A conversion index below this is weak conversion."),
    "slow_velocity": ("Slow velocity above", "A velocity index (days to close against peers) above this is slow."),
    "stalled_share": ("Stalled share above", ("A share of stalled deals above this, and above the peers' share times "
                      "the slow velocity index, is slow.")),
    "low_capacity": ("Low capacity below", ("Pipeline pace below this, with normal activity, points to territory "
                     "capacity.")),
    "stall_quantile": ("Stall quantile", "Days in a stage beyond this quantile of completed stays count as stalled."),
    "min_sample": ("Minimum sample", "Fewer stage exits or won deals than this lowers the confidence of a signal."),
    "repeat_slips": ("Repeated slips", "A deal whose close date slipped this often is flagged as slipping."),
    "default_coverage": ("Default pipeline coverage", ("Pipeline per unit of quota assumed when no history "
                         "converts.")),
    "variable_share": ("Variable share of OTE", ("Share of on-target earnings that is incentive, where a "
                       "participant's target incentive is missing.")),
}

_WORKSPACE_SPECS = (
    SettingSpec(statement_service.COMPANY_NAME_SETTING, "Company name", "Company and statements", TEXT, "",
                "Name printed in the header of every payout statement.", _parse_text),
    SettingSpec(statement_service.COMPANY_LOGO_SETTING, "Company logo", "Company and statements", IMAGE_PATH, None,
                "PNG or JPEG file drawn in the statement header; a relative path is read from the workspace's "
                "folder. Empty means no logo.", _parse_image_path),
    SettingSpec(statement_service.PAGE_SIZE_SETTING, "Statement page size", "Company and statements", CHOICE, "A4",
                "Paper size of PDF statements.", _parse_page_size, choices=PAGE_SIZES),
    SettingSpec(CURRENCY_SETTING, "Workspace currency", "Company and statements", CURRENCY, "USD",
                "Currency of deals that carry none, as a three-letter ISO 4217 code; tie-outs of credits use it.",
                _parse_currency),
    SettingSpec(period_service.FISCAL_START_SETTING, "Fiscal year starts in month", "Fiscal year", INTEGER, 1,
                "Month (1 = January) in which the fiscal year starts; fiscal period labels such as FY2018-Q1 count "
                "from it. It cannot change once a period is closed, and a plan that states another month is "
                "rejected at calculation.", _parse_integer, minimum=1, maximum=12),
    SettingSpec(metric_service.MAX_PRIMARY_SETTING, "Primary metrics allowed", "Metrics", INTEGER,
                metric_service.DEFAULT_MAX_PRIMARY,
                "Number of primary metrics the catalog allows before it flags proliferation.",
                _parse_integer, minimum=1, maximum=999),
    SettingSpec(review_service.WINDOW_SETTING, "Late-close window (weeks)", "Review", INTEGER,
                review_domain.DEFAULT_WINDOW_WEEKS,
                "Weeks at the end of each period in which a closed deal counts as a late close.",
                _parse_integer, minimum=1, maximum=52),
    SettingSpec(tieout_service.TOLERANCE_SETTING, "Default tolerance", "Tie-out", TOLERANCE,
                {"absolute": "0", "relative": "0"},
                "Difference accepted as a match when a tie-out gives no tolerance: an amount such as 0.01, a "
                "percentage such as 0.5%, or both separated by a comma.", _parse_tolerance),
)

SETTINGS: tuple[SettingSpec, ...] = (*_WORKSPACE_SPECS, *_signal_specs())
_BY_KEY = {spec.key: spec for spec in SETTINGS}


def spec_for(key: str) -> SettingSpec:
    """Return the registry entry of a key, raising UnknownSettingError that names the close matches."""
    spec = _BY_KEY.get(key.strip())
    if spec is not None:
        return spec
    raise UnknownSettingError(f"unknown setting {key!r}: {_suggestion(key.strip())}")


def _suggestion(key: str) -> str:
    requested = key.casefold()
    containing = [known for known in _BY_KEY if requested and requested in known]
    close = containing[:3] or difflib.get_close_matches(requested, list(_BY_KEY), n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(close)}? 'spm settings WS' lists every setting"
    return "'spm settings WS' lists every setting"


def display_text(spec: SettingSpec, value: object) -> str:
    """Return a value as a person types it: names joined by commas, a tolerance as ``0.01, 0.5%``."""
    if value is None:
        return ""
    if spec.kind == NAME_LIST and isinstance(value, list | tuple):
        return ", ".join(str(name) for name in value)
    if spec.kind == TOLERANCE and isinstance(value, Mapping):
        return _tolerance_text(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value)


def _tolerance_text(value: Mapping) -> str:
    absolute = str(value.get("absolute", "0"))
    try:
        percent = money.to_decimal(str(value.get("relative", "0"))) * 100
    except money.MoneyError:
        return json.dumps(dict(value))
    if percent == 0:
        return absolute
    return f"{absolute}, {_plain_decimal(percent)}%"


def parse_value(key: str, value: object) -> object:
    """Check a value without a workspace (for live checks while typing) and return what would be stored."""
    spec = spec_for(key)
    return spec.parse(spec, value)


def check_value(workspace: Workspace, key: str, value: object) -> object:
    """Check a value as ``save`` does, except for closed periods, and return what would be stored."""
    spec = spec_for(key)
    parsed = spec.parse(spec, value)
    _check_file(workspace, spec, parsed)
    return parsed


# --- reading ---------------------------------------------------------------------------------------


def list_settings(workspace: Workspace) -> list[SettingValue]:
    """Return every known setting in registry order, with stored values checked against the registry."""
    with workspace.read() as connection:
        stored = _stored_values(connection)
    return [_setting_value(workspace, spec, stored) for spec in SETTINGS]


def get(workspace: Workspace, key: str) -> SettingValue:
    """Return one setting; raises UnknownSettingError for a key not in the registry."""
    spec = spec_for(key)
    with workspace.read() as connection:
        stored = _stored_values(connection, spec.key)
    return _setting_value(workspace, spec, stored)


def _stored_values(connection: Connection, key: str | None = None) -> dict[str, object]:
    query = select(settings_table.c.key, settings_table.c.value)
    if key is not None:
        query = query.where(settings_table.c.key == key)
    return {row.key: json.loads(row.value) for row in connection.execute(query)}


def _setting_value(workspace: Workspace, spec: SettingSpec, stored: Mapping[str, object]) -> SettingValue:
    if spec.key not in stored or stored[spec.key] is None:
        return SettingValue(spec, spec.default, is_set=False)
    value = stored[spec.key]
    try:
        parsed = spec.parse(spec, value)
        _check_file(workspace, spec, parsed)
    except InvalidSettingError as error:
        return SettingValue(spec, value, is_set=True, problem=str(error))
    return SettingValue(spec, value, is_set=True)


# --- writing ---------------------------------------------------------------------------------------


def set(workspace: Workspace, key: str, value: object) -> SettingValue:
    """Validate and store one setting (text as typed, or a JSON value), audited; empty text resets optional ones."""
    save(workspace, {key: value})
    return get(workspace, key)


def reset(workspace: Workspace, key: str) -> SettingValue:
    """Remove a stored setting so that its default applies again, audited; a no-op when none is stored."""
    save(workspace, {}, resets=(key,))
    return get(workspace, key)


def save(workspace: Workspace, values: Mapping[str, object], resets: Iterable[str] = ()) -> list[str]:
    """Validate every value first, then write all of them in one transaction; return the keys that changed.

    Raises UnknownSettingError, InvalidSettingError (naming the first invalid key) or
    PeriodLockedError (the fiscal year start while a period is closed); nothing is
    written then.
    """
    parsed: dict[str, object] = {}
    for key, value in values.items():
        spec = spec_for(key)
        parsed[spec.key] = spec.parse(spec, value)
        _check_file(workspace, spec, parsed[spec.key])
    for key in resets:
        parsed[spec_for(key).key] = None

    changed = []
    with workspace.transaction() as unit:
        for key, value in parsed.items():
            if _write(unit, key, value):
                changed.append(key)
    if changed:
        log.info("workspace settings changed by %s: %s", workspace.user, ", ".join(changed))
    return changed


def _write(unit: UnitOfWork, key: str, value: object) -> bool:
    """Store or remove one value inside the caller's transaction; return whether anything changed."""
    table = settings_table
    current = unit.connection.execute(select(table.c.value).where(table.c.key == key)).scalar_one_or_none()
    before = None if current is None else json.loads(current)
    if value is None:
        if current is None:
            return False
        _check_fiscal_change(unit.connection, key, before, _BY_KEY[key].default)
        unit.connection.execute(delete(table).where(table.c.key == key))
        unit.audit(RESET_ACTION, "setting", key, before=before, after=None)
        return True

    encoded = canonical_json(value)
    if current == encoded:
        return False
    _check_fiscal_change(unit.connection, key, before if current is not None else _BY_KEY[key].default, value)
    if current is None:
        unit.connection.execute(table.insert().values(key=key, value=encoded))
    else:
        unit.connection.execute(table.update().where(table.c.key == key).values(value=encoded))
    unit.audit(SET_ACTION, "setting", key, before=before, after=value)
    return True


def _check_fiscal_change(connection: Connection, key: str, before: object, after: object) -> None:
    """Reject a new fiscal year start while any period is closed: its fiscal labels would name other months."""
    if key != period_service.FISCAL_START_SETTING or before == after:
        return
    closed = [period.label for period in period_service.list_periods(connection) if period.is_closed]
    if closed:
        shown = ", ".join(closed[:5]) + (f" and {len(closed) - 5} more" if len(closed) > 5 else "")
        raise PeriodLockedError(
            f"setting {key} cannot change from {before} to {after} because {len(closed)} closed period(s) "
            f"({shown}) were calculated with the fiscal year starting in month {before}; closed periods cannot be "
            "reopened, so keep the current start month")


def fiscal_start_warnings(workspace: Workspace) -> list[str]:
    """Return a message for each plan whose document states a fiscal start month other than the workspace's.

    Such a plan is rejected at calculation, so the command line and the settings dialog
    show these messages after a change of ``fiscal_year.start_month``.
    NOTE: only the latest version of each plan is checked, not older versions still in
    force for earlier periods.
    """
    with workspace.read() as connection:
        month = period_service.fiscal_start_month(connection)
        stating = []
        for name in plan_service.plan_names(connection):
            latest = plan_service.get_version(connection, name)
            if latest.status == "retired":
                continue
            text = plan_service.document(connection, name, latest.version)
            if plan_service.states_fiscal_start(text):
                stating.append(plan_service.parse(text))
    return [problem.message for problem in plan_service.fiscal_start_problems(stating, month)]


# --- the logo file ---------------------------------------------------------------------------------


def logo_file(workspace: Workspace, text: str) -> Path:
    """Return the file a logo path names; a relative path is read from the workspace's folder, as statements do."""
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = workspace.path.parent / path
    return path


def _check_file(workspace: Workspace, spec: SettingSpec, value: object) -> None:
    if spec.kind != IMAGE_PATH or value is None:
        return
    path = logo_file(workspace, str(value))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _invalid(spec, value, f"the file {path} does not exist; give the path of a PNG or JPEG file") from None
    except IsADirectoryError:
        raise _invalid(spec, value, f"{path} is a folder; give the path of a PNG or JPEG file") from None
    except OSError as error:
        raise _invalid(spec, value, f"the file {path} cannot be read ({error.strerror})") from None
    if image_size(data) is None:
        raise _invalid(spec, value, f"the file {path} is not a PNG or JPEG image that statements can draw")


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """Return ("png" or "jpeg", width, height) read from an image's header, or None for anything else.

    NOTE: only the header is read; a file damaged after its header passes this check,
    and the statement then shows no logo.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return ("png", width, height) if width and height else None
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


# Start-of-frame markers carry the image size; C4 (Huffman tables), C8 and CC (arithmetic coding) do not.
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[str, int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        if marker in _JPEG_FRAME_MARKERS:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return ("jpeg", width, height) if width and height else None
        position += 2 + length
    return None

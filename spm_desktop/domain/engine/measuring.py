"""Measuring: credited metric values in the plan currency, exchange rates, quotas and proration."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from spm_desktop.domain.engine.crediting import (
    CREDIT_KINDS,
    PreparedDeals,
    filled,
    listed,
    scale,
    text_or_none,
)
from spm_desktop.domain.engine.exact import product_parts, split_distinct, stable_order
from spm_desktop.domain.money import CONTEXT, from_record_units, to_decimal
from spm_desktop.domain.periods import (
    Period,
    PeriodError,
    active_days,
    active_months,
    months_in,
    parse_period,
    period_containing,
)
from spm_desktop.domain.plans import Plan
from spm_desktop.domain.problems import Problem

ONE = Decimal(1)
ZERO = Decimal(0)


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricInfo:
    """The parts of a compiled metric the engine reads, whatever class carries them."""

    key: str
    version: int | None
    unit: str
    date_field: str
    metric: Any

    def select(self, frame: pd.DataFrame) -> pd.Series:
        return self.metric.select(frame)

    def record_values(self, frame: pd.DataFrame) -> pd.Series:
        """Return each record's value; every record of ``frame`` counts, because selection happened before."""
        everything = pd.Series(True, index=frame.index, dtype=bool)
        try:
            return self.metric.record_values(frame, selected=everything)
        except TypeError:
            return self.metric.record_values(frame)

    def record_values_and_parts(self, frame: pd.DataFrame, known: Any = None) -> tuple[
            pd.Series, tuple[np.ndarray, np.ndarray] | None]:
        """Return ``record_values`` and, where the metric gives them, the values' integer parts (see metrics)."""
        method = getattr(self.metric, "record_values_and_parts", None)
        if method is None:
            return self.record_values(frame), None
        return method(frame, selected=pd.Series(True, index=frame.index, dtype=bool),  # type: ignore[no-any-return]
                      known=known)

    @property
    def additive(self) -> bool:
        return bool(getattr(self.metric, "additive", True))


def metric_info(key: str, metric: Any) -> MetricInfo:
    """Read key, version, unit and date field from a compiled metric or its definition."""
    definition = getattr(metric, "definition", None)

    def attribute(*names: str, default: Any = None) -> Any:
        for holder in (metric, definition):
            for name in names:
                value = getattr(holder, name, None) if holder is not None else None
                if value is not None:
                    return value
        return default

    return MetricInfo(
        key=str(attribute("key", default=key)),
        version=attribute("version"),
        unit=str(attribute("unit", default="currency")),
        date_field=str(attribute("date_field", "date", default="close_date")),
        metric=metric,
    )


def _decimal_values(values: pd.Series, unit: str) -> np.ndarray:
    """Turn record values into Decimal objects; integer money counts of 1/10,000 are scaled."""
    result = np.empty(len(values), dtype=object)
    scaled = unit == "currency" and str(values.dtype) in ("Int64", "int64")
    for index, value in enumerate(values.tolist()):
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            result[index] = ZERO
        elif scaled:
            result[index] = from_record_units(int(value))
        else:
            result[index] = to_decimal(value)
    return result


# ---------------------------------------------------------------- exchange rates


class FxTable:
    """Dated exchange rates per pair and type: the latest on or before a date, within a maximum age."""

    def __init__(self, fx_rates: pd.DataFrame | None) -> None:
        self._series: dict[tuple[str, str, str], tuple[list[dt.date], list[Decimal]]] = {}
        self._cache: dict[tuple[str, str, dt.date, str, int], Decimal | None] = {}
        if fx_rates is None or fx_rates.empty:
            return
        types = fx_rates["rate_type"] if "rate_type" in fx_rates.columns else pd.Series([None] * len(fx_rates))
        grouped: dict[tuple[str, str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
        dates = pd.to_datetime(fx_rates["date"])
        for day, source, target, rate, rate_type in zip(dates, fx_rates["from_currency"], fx_rates["to_currency"],
                                                        fx_rates["rate"], types, strict=True):
            kind = text_or_none(rate_type) or "average"
            grouped[(str(source).upper(), str(target).upper(), kind)].append((day.date(), to_decimal(rate)))
        for key, items in grouped.items():
            items.sort()
            self._series[key] = ([day for day, _rate in items], [rate for _day, rate in items])

    def _lookup(self, source: str, target: str, day: dt.date, rate_type: str, max_age: int) -> Decimal | None:
        series = self._series.get((source, target, rate_type))
        if series is None:
            return None
        days, rates = series
        index = bisect.bisect_right(days, day) - 1
        if index < 0 or (day - days[index]).days > max_age:
            return None
        return rates[index]

    def rate(self, source: str, target: str, day: dt.date, rate_type: str, max_age: int) -> Decimal | None:
        """Return units of ``target`` per unit of ``source`` on ``day``, or None when no rate is young enough.

        The inverse of the opposite pair is used when the pair itself is not published.
        """
        if source == target:
            return ONE
        key = (source, target, day, rate_type, max_age)
        if key not in self._cache:
            rate = self._lookup(source, target, day, rate_type, max_age)
            if rate is None:
                inverse = self._lookup(target, source, day, rate_type, max_age)
                rate = CONTEXT.divide(ONE, inverse) if inverse else None
            self._cache[key] = rate
        return self._cache[key]


# ---------------------------------------------------------------- credited values


@dataclass(frozen=True)
class Employment:
    """Hire and termination dates of each participant."""

    hire: Mapping[str, dt.date | None]
    leave: Mapping[str, dt.date | None]

    @classmethod
    def from_frame(cls, participants: pd.DataFrame) -> Employment:
        ids = participants["participant_id"].astype(str).tolist()
        hires = _column_dates(participants, "hire_date")
        leaves = _column_dates(participants, "termination_date")
        return cls(dict(zip(ids, hires, strict=True)), dict(zip(ids, leaves, strict=True)))

    def active_on(self, participant_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Return a mask of credit rows dated within the participant's employment (datetime64 days)."""
        # Dates are looked up once per distinct participant and spread to the rows by code. A
        # missing id has code -1, which takes the NaT appended after the distinct ids.
        codes, distinct = pd.factorize(pd.Series(participant_ids, dtype=object))
        first = {pid: np.datetime64(_as_day(day, dt.date.min), "D") for pid, day in self.hire.items()}
        last = {pid: np.datetime64(_as_day(day, dt.date.max), "D") for pid, day in self.leave.items()}
        not_a_time = np.datetime64("NaT", "D")
        hires = np.array([first.get(pid, not_a_time) for pid in distinct] + [not_a_time],
                         dtype="datetime64[D]")[codes]
        leaves = np.array([last.get(pid, not_a_time) for pid in distinct] + [not_a_time],
                          dtype="datetime64[D]")[codes]
        days = days.astype("datetime64[D]")
        known = ~np.isnat(hires)
        return known & (days >= np.where(known, hires, days)) & (days <= np.where(known, leaves, days))

    def active_on_codes(self, codes: np.ndarray, names: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Return the mask of ``active_on`` for participant ids given as codes into ``names``."""
        first = {pid: np.datetime64(_as_day(day, dt.date.min), "D") for pid, day in self.hire.items()}
        last = {pid: np.datetime64(_as_day(day, dt.date.max), "D") for pid, day in self.leave.items()}
        not_a_time = np.datetime64("NaT", "D")
        hires = np.array([first.get(pid, not_a_time) for pid in names.tolist()], dtype="datetime64[D]")[codes]
        leaves = np.array([last.get(pid, not_a_time) for pid in names.tolist()], dtype="datetime64[D]")[codes]
        days = days.astype("datetime64[D]")
        known = ~np.isnat(hires)
        return known & (days >= np.where(known, hires, days)) & (days <= np.where(known, leaves, days))


def _as_day(value: dt.date | None, default: dt.date) -> dt.date:
    return value if value is not None else default


def _column_dates(frame: pd.DataFrame, column: str) -> list[dt.date | None]:
    if column not in frame.columns:
        return [None] * len(frame)
    values = pd.to_datetime(frame[column], errors="coerce")
    return [None if pd.isna(value) else value.date() for value in values]


@dataclass
class CreditedMetric:
    """Credit rows of one metric in one plan currency, ordered by (credit date, deal id)."""

    frame: pd.DataFrame
    problems: list[Problem]


def _selected_positions(prepared: PreparedDeals, info: MetricInfo) -> np.ndarray:
    frame = prepared.deals
    mask = np.array(info.select(frame).fillna(False), dtype=bool) if len(frame) else np.zeros(0, dtype=bool)
    # A reversal counts exactly when the deal it reverses passes the filter.
    for position, originals in prepared.originals.items():
        mask[position] = any(mask[original] for original in originals)
    for position in prepared.excluded:
        mask[position] = False
    return np.flatnonzero(mask)


def _credit_dates(frame: pd.DataFrame, positions: np.ndarray, info: MetricInfo) -> np.ndarray:
    if info.date_field not in frame.columns:
        return np.empty(0, dtype="datetime64[ns]")
    return pd.to_datetime(frame[info.date_field].iloc[positions]).to_numpy(dtype="datetime64[ns]")


def _fx_rates(prepared: PreparedDeals, positions: np.ndarray, dates: np.ndarray, plan: Plan,
              fx: FxTable, problems: list[Problem]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return per selected row its currency and the rate into the plan currency (None where missing).

    The flag is True when every row is in the plan currency, so every rate is the object ONE.
    """
    frame = prepared.deals
    if "currency" in frame.columns:
        raw = frame["currency"].to_numpy(dtype=object)[positions]
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        names = np.array([(text_or_none(value) or plan.currency).upper() for value in uniques] + [plan.currency],
                         dtype=object)
        row_currency = names[codes]  # code -1 (a missing currency) takes the plan currency at the end
    else:
        row_currency = filled(len(positions), plan.currency)
    rates = np.full(len(positions), ONE, dtype=object)
    foreign = np.flatnonzero(row_currency != plan.currency)
    if len(foreign) == 0:
        return row_currency, rates, True
    date_of = {int(pos): pd.Timestamp(day).date() for pos, day in zip(positions, dates, strict=True)}
    missing: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    deal_ids = frame["deal_id"].to_numpy(dtype=object)
    for index in foreign.tolist():
        position = int(positions[index])
        currency = row_currency[index]
        # A reversal is converted at the rate used for the deal it reverses.
        source_position = prepared.originals.get(position, (position,))[0]
        day = date_of.get(source_position, date_of[position])
        if plan.fx.rate_date == "period_end":
            day = period_containing(day, plan.period, plan.fiscal_start_month, plan.period_start).end  # type: ignore[arg-type]
        rate = fx.rate(currency, plan.currency, day, plan.fx.rate_type, plan.fx.max_age_days)
        rates[index] = rate
        if rate is None:
            missing[(currency, day)].append(str(deal_ids[position]))
    for (currency, day), deals in sorted(missing.items()):
        problems.append(Problem(
            "calc.missing_fx_rate",
            f"no {plan.fx.rate_type} rate {currency}/{plan.currency} on {day} or up to {plan.fx.max_age_days} days "
            f"before it (deals {listed(deals)}); import the rate, because a missing rate is never taken as 1",
            value=f"{currency}/{plan.currency} {day}",
        ))
    return row_currency, rates, False


def _multiply(values: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Multiply element by element, keeping the value object itself where the factor is exactly 1."""
    product = values.copy()
    scaled = np.flatnonzero(factors != ONE)
    if len(scaled):
        product[scaled] = scale(values[scaled], factors[scaled])
    return product


def _multiply_unless_one(values: np.ndarray, factors: np.ndarray, is_one: np.ndarray) -> np.ndarray:
    """Multiply element by element where ``is_one`` is False, keeping the value object itself elsewhere."""
    product = values.copy()
    scaled = np.flatnonzero(~is_one)
    if len(scaled):
        product[scaled] = scale(values[scaled], factors[scaled])
    return product


def _shared_values(prepared: PreparedDeals, positions: np.ndarray, values: np.ndarray,
                   parts: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Reuse the value objects of an earlier metric for the same records where they print the same.

    Two metrics on the same amount make equal Decimals per record. Sharing them keeps one
    object per record in the statement lines instead of one per metric. Records whose
    integer parts are known were shared before their objects were made (``_record_values``);
    the others are compared here.
    """
    seen = prepared.record_seen[positions]
    check = seen & ~prepared.record_known[positions] if parts is not None else seen
    earlier = np.flatnonzero(check)
    if len(earlier):
        prior = prepared.record_values[positions[earlier]]
        # compare_total is 0 only for the same digits and exponent, unlike ==, which finds 1.0 equal to 1.
        same = np.array([not old.compare_total(new) for old, new in zip(prior.tolist(), values[earlier].tolist(),
                                                                        strict=True)], dtype=bool)
        if same.any():
            values = values.copy()  # pandas may hand out a read-only view
            values[earlier[same]] = prior[same]
    first = positions[~seen]
    prepared.record_values[first] = values[~seen]
    prepared.record_seen[first] = True
    if parts is not None:
        prepared.record_coefficients[first] = parts[0][~seen]
        prepared.record_exponents[first] = parts[1][~seen]
        prepared.record_known[first] = True
    return values


def _record_values(info: MetricInfo, frame: pd.DataFrame, positions: np.ndarray, prepared: PreparedDeals) -> tuple[
        np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Return the metric's value of each selected record as Decimal objects, and their integer parts when known.

    A record whose parts equal those of an earlier metric's value takes that metric's
    object, which is then not made again.
    """
    reused: list[np.ndarray] = []

    def known(coefficients: np.ndarray, exponents: np.ndarray) -> np.ndarray:
        same = (prepared.record_known[positions] & (prepared.record_coefficients[positions] == coefficients)
                & (prepared.record_exponents[positions] == exponents))
        reused.append(same)
        return same

    if len(positions) == len(frame):
        raw, parts = info.record_values_and_parts(frame, known)
    else:
        raw, parts = info.record_values_and_parts(frame.iloc[positions], known)
    values = raw.to_numpy(dtype=object) if raw.dtype == object else None
    if values is not None and reused and parts is not None:
        values = values.copy()  # pandas may hand out a read-only view
        values[reused[0]] = prepared.record_values[positions[reused[0]]]
    if values is not None and len(values) and set(map(type, values.tolist())) == {Decimal}:
        return values, parts
    return _decimal_values(raw.reset_index(drop=True), info.unit), None


def _credited_parts(coefficients: np.ndarray, exponents: np.ndarray, shares: np.ndarray,
                    is_one: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the integer parts of the credited values that ``_multiply_unless_one`` makes, or None.

    None when a share or a product has no int64 parts, so the credit blocks read them from the Decimals.
    """
    scaled = np.flatnonzero(~is_one)
    if len(scaled) == 0:
        return coefficients, exponents
    share_coefficients, share_exponents, others = split_distinct(shares[scaled])
    if others is not None:
        return None
    products, product_exponents, fits = product_parts(coefficients[scaled], exponents[scaled], share_coefficients,
                                                       share_exponents)
    if not fits.all():
        return None
    coefficients = coefficients.copy()
    exponents = exponents.copy()
    coefficients[scaled] = products
    exponents[scaled] = product_exponents
    return coefficients, exponents


def _report_outside(credits: pd.DataFrame, outside: np.ndarray, known: np.ndarray, deal_ids: np.ndarray,
                    problems: list[Problem]) -> None:
    for participant_id, group in credits[outside & known].groupby("participant_id"):
        names = sorted({str(deal_ids[position]) for position in group["_pos"].tolist()})
        problems.append(Problem("calc.outside_employment", f"credit dated outside the employment of participant "
                                f"{participant_id} is not credited to them (deals {listed(names)})",
                                severity="warning", participant_id=str(participant_id)))
    for participant_id, group in credits[~known].groupby("participant_id"):
        names = sorted({str(deal_ids[position]) for position in group["_pos"].tolist()})
        problems.append(Problem("calc.unknown_participant", f"participant {participant_id} is credited with deals "
                                f"{listed(names)} but is not in the participants; import them or correct the owner",
                                severity="warning", participant_id=str(participant_id)))


def credited_metric(prepared: PreparedDeals, info: MetricInfo, plan: Plan, fx: FxTable,
                    employment: Employment) -> CreditedMetric:
    """Credit one metric: selected rows times share, in the plan currency, within employment.

    Rows without a date are left out and reported; rows with a missing rate are left out
    and the missing rate is an error problem.
    """
    problems: list[Problem] = []
    frame = prepared.deals
    positions = _selected_positions(prepared, info)
    if info.date_field not in frame.columns:
        problems.append(Problem("calc.missing_date_field", f"metric {info.key!r} places records by "
                                f"{info.date_field!r}, which the deals do not have; nothing is credited",
                                value=info.date_field))
        positions = positions[:0]
    dates = _credit_dates(frame, positions, info)
    dated = ~np.isnat(dates)
    if not dated.all():
        undated = prepared.deal_ids[positions[~dated]].astype(str).tolist()
        problems.append(Problem("calc.missing_date", f"metric {info.key!r}: {len(undated)} selected record(s) have "
                                f"no {info.date_field} and are not credited (deals {listed(undated)})",
                                severity="warning"))
        positions, dates = positions[dated], dates[dated]

    values, parts = _record_values(info, frame, positions, prepared)
    values = _shared_values(prepared, positions, values, parts)
    all_one = True
    if info.unit == "currency":
        currencies, rates, all_one = _fx_rates(prepared, positions, dates, plan, fx, problems)
    else:
        currencies = np.full(len(positions), None, dtype=object)
        rates = np.full(len(positions), ONE, dtype=object)
    if not all_one:
        # An identity test: comparing a Decimal with None would check the numbers ABCs for every row.
        converted = np.array([rate is not None for rate in rates.tolist()], dtype=bool)
        positions, dates, values = positions[converted], dates[converted], values[converted]
        currencies, rates = currencies[converted], rates[converted]

    # Join each selected row to its recipients by position.
    lookup = np.full(len(frame), -1, dtype=np.int64)
    lookup[positions] = np.arange(len(positions))
    recipients = prepared.recipients
    row = lookup[recipients.positions]
    kept = np.flatnonzero(row >= 0)
    row = row[kept]

    active = employment.active_on_codes(recipients.participant_codes[kept], recipients.participant_names, dates[row])
    if not active.all():
        recipient_ids = recipients.participant_ids[kept]
        known = pd.Series(recipient_ids, dtype=object).isin(list(employment.hire)).to_numpy()
        found = pd.DataFrame({"participant_id": pd.arrays.NumpyExtensionArray(recipient_ids),
                              "_pos": recipients.positions[kept]}, copy=False)
        _report_outside(found, ~active, known, prepared.deal_ids, problems)
        kept, row = kept[active], row[active]

    # Sort first and take every column once, in credit order.
    order = _sort_credits(recipients.participant_codes[kept], dates[row].astype("datetime64[ns]").astype(np.int64),
                          prepared.deal_rank[recipients.positions[kept]], _KIND_RANKS[recipients.kind_codes[kept]])
    kept, row = kept[order], row[order]
    shares = recipients.shares[kept]
    credited = _multiply_unless_one(values[row], shares, recipients.share_is_one[kept])
    credited_parts = None
    if not all_one:
        credited = _multiply(credited, rates[row])
    elif parts is not None:
        credited_parts = _credited_parts(parts[0][row], parts[1][row], shares, recipients.share_is_one[kept])
    columns = {
        "_pos": recipients.positions[kept], "participant_id": recipients.participant_ids[kept],
        "credit_kind": recipients.credit_kinds[kept],
        "share": shares, "credit_date": dates[row], "value": values[row], "currency": currencies[row],
        "fx_rate": rates[row], "credited": credited,
        "via_participant_id": filled(len(kept), None),
    }
    if credited_parts is not None:
        columns["credited_coefficient"], columns["credited_exponent"] = credited_parts
    credits = pd.DataFrame({name: pd.Series(values, dtype=object, copy=False) if values.dtype == object else values
                            for name, values in columns.items()}, copy=False)
    return CreditedMetric(credits, problems)


_DAY_NS = 86_400 * 10**9


def _sort_credits(participants: np.ndarray, dates: np.ndarray, ranks: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Return the stable order of credit rows by participant code, date (int64 ns), deal rank and kind rank.

    Dates that are all whole days are sorted as day counts from the first, so that the four
    keys can be combined into one (see ``stable_order``).
    """
    if len(dates) and not (dates % _DAY_NS).any():
        days = dates // _DAY_NS
        dates = days - days.min()
    return stable_order([participants, dates, ranks, kinds])


_KIND_ORDER = {"owner": 0, "split": 1, "overlay": 2, "team": 3}
# The sort rank of each entry of CREDIT_KINDS.
_KIND_RANKS = np.array([_KIND_ORDER[kind] for kind in CREDIT_KINDS], dtype=np.int64)


def _credit_order(participant_ids: np.ndarray, credit_kinds: np.ndarray, vias: np.ndarray | None,
                  dates: np.ndarray, positions: np.ndarray, prepared: PreparedDeals) -> np.ndarray:
    """Return the order of credit rows by participant, credit date, deal id, line id, position, kind and via.

    ``vias`` None means that no row has a via participant.
    """
    participants, _uniques = pd.factorize(pd.Series(participant_ids, dtype=object), sort=True)
    kind_codes, kind_names = pd.factorize(pd.Series(credit_kinds, dtype=object))
    kinds = np.array([_KIND_ORDER[name] for name in kind_names], dtype=np.int64)[kind_codes]
    days = dates.astype("datetime64[ns]").astype(np.int64)
    deal_rank = prepared.deal_rank[positions]
    if vias is None:
        return np.lexsort((kinds, deal_rank, days, participants))
    via_codes = pd.factorize(pd.Series(vias, dtype=object).fillna(""), sort=True)[0]
    return np.lexsort((via_codes, kinds, deal_rank, days, participants))


def order_credits(credits: pd.DataFrame, prepared: PreparedDeals) -> pd.DataFrame:
    """Sort credit rows by participant, credit date, deal id, line id and position."""
    if credits.empty:
        return credits.reset_index(drop=True)
    order = _credit_order(credits["participant_id"].to_numpy(dtype=object),
                          credits["credit_kind"].to_numpy(dtype=object),
                          credits["via_participant_id"].to_numpy(dtype=object),
                          credits["credit_date"].to_numpy(dtype="datetime64[ns]"),
                          credits["_pos"].to_numpy(dtype=np.int64), prepared)
    return credits.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------- quotas


class QuotaBook:
    """Imported quotas per participant, quota key and period, read by the plan's period labels."""

    def __init__(self, quotas: pd.DataFrame | None) -> None:
        self._amounts: dict[tuple[str, str, str], tuple[Decimal, str | None]] = {}
        self._labels: dict[str, tuple[dt.date, dt.date] | None] = {}
        if quotas is None or quotas.empty:
            return
        currencies = quotas["currency"] if "currency" in quotas.columns else pd.Series([None] * len(quotas))
        for participant_id, key, period, amount, currency in zip(quotas["participant_id"], quotas["quota_key"],
                                                                quotas["period"], quotas["amount"], currencies,
                                                                strict=True):
            value = from_record_units(int(amount)) if isinstance(amount, int | np.integer) else to_decimal(amount)
            self._amounts[(str(participant_id), str(key), str(period).strip())] = (value, text_or_none(currency))

    def _span(self, label: str, plan: Plan) -> tuple[dt.date, dt.date] | None:
        if label not in self._labels:
            try:
                period = parse_period(label, plan.period if plan.period in ("week", "two_weeks") else None,  # type: ignore[arg-type]
                                      plan.fiscal_start_month, plan.period_start)
                self._labels[label] = (period.start, period.end)
            except PeriodError:
                self._labels[label] = None
        return self._labels[label]

    def amount(self, participant_id: str, key: str, period: Period, plan: Plan) -> tuple[Decimal, str | None] | None:
        """Return the quota and its currency, matching labels by the days they cover (2017-Q3 is FY2018-Q1)."""
        exact = self._amounts.get((participant_id, key, period.label))
        if exact is not None:
            return exact
        for (pid, quota_key, label), value in self._amounts.items():
            if pid == participant_id and quota_key == key and self._span(label, plan) == (period.start, period.end):
                return value
        return None


def prorate(quota: Decimal, period: Period, method: str, first: dt.date, last: dt.date) -> Decimal:
    """Scale a period quota by the active share of the period (days, or whole calendar months)."""
    if method == "none" or (first <= period.start and last >= period.end):
        return quota
    if method == "months" and months_in(period) > 0:
        share = CONTEXT.divide(Decimal(active_months(period, first, last)), Decimal(months_in(period)))
    else:
        share = CONTEXT.divide(Decimal(active_days(period, first, last)), Decimal(period.days))
    return CONTEXT.multiply(quota, share)

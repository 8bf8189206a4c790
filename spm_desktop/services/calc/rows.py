"""Turn the engine's results into the rows a run stores: results, lines and balances.

The engine returns result rows, a lines frame and balances for every period it
calculated. ``prepare_runs`` groups them by plan period into ``PreparedRun`` objects.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd

from spm_desktop.domain.canonical import canonical_json
from spm_desktop.domain.engine import exact_decimals
from spm_desktop.domain.money import to_minor
from spm_desktop.domain.problems import Problem
from spm_desktop.services.calc.inputs import RunInputs
from spm_desktop.services.calc.storing import PreparedRun

_ROW_KINDS = {"Draw": "draw", "Adjustments": "adjustments", "TOTAL": "total"}
_LINE_KIND_NAMES = {"deal": "sale", "hold_release": "release"}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _result_values(row: object) -> dict[str, object]:
    r = row  # type: ignore[assignment]
    return {
        "row_kind": _ROW_KINDS.get(r.component, "component"),  # type: ignore[attr-defined]
        "participant_id": r.participant_id, "participant_name": r.participant_name,  # type: ignore[attr-defined]
        "period": r.period, "plan": r.plan, "plan_version": r.plan_version,  # type: ignore[attr-defined]
        "component": r.component, "metric_key": r.metric_key,  # type: ignore[attr-defined]
        "metric_version": r.metric_version, "metric_unit": r.metric_unit,  # type: ignore[attr-defined]
        "metric_value": _text(r.metric_value), "quota": _text(r.quota),  # type: ignore[attr-defined]
        "attainment": _text(r.attainment),  # type: ignore[attr-defined]
        "earnings_minor": to_minor(r.earnings, r.currency), "currency": r.currency,  # type: ignore[attr-defined]
    }


def _column(frame: pd.DataFrame, name: str) -> list[object]:
    """Return a frame column as Python values with None for every missing value (NaN, NaT, NA)."""
    column = frame[name]
    return column.astype(object).where(column.notna(), None).tolist()


def _texts(values: list[object]) -> list[str | None]:
    return [None if value is None else format(value, "f") for value in values]  # type: ignore[arg-type]


def _ints(values: list[object]) -> list[int | None]:
    return [None if value is None else int(value) for value in values]  # type: ignore[call-overload]


def _iso_dates(values: list[object]) -> list[str | None]:
    """Return dates (or timestamps) as ISO day text, the form the Date columns store."""
    days = [value.date() if isinstance(value, dt.datetime) else value for value in values]
    return [None if day is None else day.isoformat() for day in days]  # type: ignore[union-attr]


def _json_text(values: object, quoted: bool) -> str:
    """Write a band or rate tuple as a JSON list (rates as quoted decimal text)."""
    items = values or ()
    if quoted:
        return "[" + ", ".join(f'"{format(item, "f")}"' for item in items) + "]"  # type: ignore[union-attr]
    return "[" + ", ".join(str(int(item)) for item in items) + "]"  # type: ignore[union-attr]


def engine_lines_to_columns(frame: pd.DataFrame) -> dict[str, list[object]]:
    """Turn the engine's lines frame (the engine's ``LINE_COLUMNS``) into result_lines values, column by column.

    This is the one place that reads the engine's lines frame, so a change in its
    columns or types only changes this function.
    """
    participants = [str(value) for value in frame["participant_id"].tolist()]
    plans = [str(value) for value in frame["plan"].tolist()]
    components = [str(value) for value in frame["component"].tolist()]
    deal_currencies = _column(frame, "currency")
    currencies = [str(currency) for currency in frame["plan_currency"].tolist()]
    columns: dict[str, list[object]] = {
        "participant_id": participants, "plan": plans, "component": components,  # type: ignore[dict-item]
        "line_kind": [_LINE_KIND_NAMES.get(kind, kind) for kind in frame["kind"].tolist()],
        "deal_row_id": _ints(_column(frame, "row_id")), "deal_id": _column(frame, "deal_id"),  # type: ignore[dict-item]
        "line_id": _column(frame, "line_id"), "credit_date": _iso_dates(_column(frame, "credit_date")),  # type: ignore[dict-item]
        "share": _texts(_column(frame, "share")), "credit_kind": _column(frame, "credit_kind"),  # type: ignore[dict-item]
        "via_participant_id": _column(frame, "via_participant_id"),
        "amount": _texts(_column(frame, "amount")), "deal_currency": deal_currencies,  # type: ignore[dict-item]
        "credited": _texts(_column(frame, "credited")), "fx_rate": _texts(_column(frame, "fx_rate")),  # type: ignore[dict-item]
        "bands": [_json_text(bands, quoted=False) for bands in frame["bands"].tolist()],
        "rates": [_json_text(rates, quoted=True) for rates in frame["rates"].tolist()],
        "exact_earnings": _texts(exact_decimals(frame).tolist()),  # type: ignore[dict-item]
        "earnings_minor": _ints(_column(frame, "rounded_minor")),  # type: ignore[dict-item]
        "paid_now_minor": _ints(_column(frame, "paid_now_minor")),  # type: ignore[dict-item]
        "held_minor": _ints(_column(frame, "held_minor")),  # type: ignore[dict-item]
        "currency": currencies,  # type: ignore[dict-item]
        "source_batch": _ints(_column(frame, "batch_id")), "source_row": _ints(_column(frame, "source_row")),  # type: ignore[dict-item]
        "note": [value or None for value in _column(frame, "note")],
    }
    columns["_result_key"] = list(zip(participants, plans, components, strict=True))
    return columns


def _still_held(held: object, label: str, periods: dict[str, object]) -> bool:
    """Tell whether a held amount is still held at the end of period ``label``.

    It is when it was held in that period or an earlier one (a label outside this
    calculation is an earlier, recorded period) and its release date, if known, falls
    after the period. Storing only the amounts held in ``label`` itself would drop older
    holds once a later period is closed, and they would never be released.
    """
    period = periods[label]
    held_in = periods.get(held.held_in_period)  # type: ignore[attr-defined]
    if held_in is not None and held_in.start > period.start:  # type: ignore[attr-defined]
        return False
    release = held.release_date  # type: ignore[attr-defined]
    return release is None or release > period.end  # type: ignore[attr-defined]


def _balance_rows(result: object, label: str, currencies: dict[str, str],
                  periods: dict[str, object] | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for (participant_id, plan, period), amount in sorted(result.draw_balances.items()):  # type: ignore[attr-defined]
        if period == label:
            rows.append({"participant_id": participant_id, "plan": plan, "component": None, "kind": "draw_balance",
                         "amount": format(amount, "f"), "currency": currencies.get(plan, ""), "detail": None})
    for held in result.held:  # type: ignore[attr-defined]
        if periods is None or label not in periods:
            if held.held_in_period != label:
                continue
        elif not _still_held(held, label, periods):
            continue
        detail = {"deal_id": held.deal_id, "line_id": held.line_id, "held_in_period": held.held_in_period,
                  "until_field": held.until_field,
                  "release_date": None if held.release_date is None else held.release_date.isoformat()}
        rows.append({"participant_id": held.participant_id, "plan": held.plan, "component": held.component,
                     "kind": "held", "amount": format(held.amount, "f"), "currency": currencies.get(held.plan, ""),
                     "detail": canonical_json(detail)})
    return rows


def _merge_columns(parts: list[dict[str, list[object]]]) -> dict[str, list[object]]:
    if not parts:
        return {}
    merged: dict[str, list[object]] = {name: [] for name in parts[0]}
    for part in parts:
        for name, values in part.items():
            merged[name].extend(values)
    return merged


def _problems_by_period(problems: list[Problem], labels: list[str]) -> dict[str, list[Problem]]:
    """Give each run the problems that name its period, and every run the problems that name none."""
    by_period: dict[str, list[Problem]] = {label: [] for label in labels}
    seen: set[Problem] = set()
    for problem in problems:
        if problem in seen:
            continue
        seen.add(problem)
        text = f"{problem.message} {problem.value or ''}"
        named = [label for label in labels if label in text]
        for label in named or labels:
            by_period[label].append(problem)
    return by_period


def prepare_runs(inputs: RunInputs, engine_results: list[object], kind: str, scenario_id: int | None,
                 started_at: str) -> list[PreparedRun]:
    """Turn engine results into one prepared run per plan period of ``inputs``, with rows ready to store."""
    rows_by_period: dict[str, list[dict[str, object]]] = {}
    lines_by_period: dict[str, list[dict[str, list[object]]]] = {}
    problems = list(inputs.skipped)
    for result in engine_results:
        for row in result.rows:  # type: ignore[attr-defined]
            rows_by_period.setdefault(row.period, []).append(_result_values(row))
        lines = result.lines  # type: ignore[attr-defined]
        for period, group in lines.groupby("period", sort=False) if not lines.empty else ():
            lines_by_period.setdefault(str(period), []).append(engine_lines_to_columns(group))
        problems += list(result.problems)  # type: ignore[attr-defined]

    problems_by_period = _problems_by_period(problems, list(inputs.periods))
    prepared = []
    for label, period in inputs.periods.items():
        versions = dict(inputs.versions)
        plan_names = sorted({str(row["plan"]) for row in rows_by_period.get(label, [])})
        versions["plans"] = {name: inputs.versions["plans"][name] for name in plan_names  # type: ignore[index]
                             if name in inputs.versions["plans"]}  # type: ignore[operator]
        prepared.append(PreparedRun(
            period_label=label, period_start=period.start, period_end=period.end,  # type: ignore[attr-defined]
            kind=kind, scenario_id=scenario_id, started_at=started_at, inputs=dict(inputs.fingerprints),
            versions=versions, problems=problems_by_period[label], result_rows=rows_by_period.get(label, []),
            line_columns=_merge_columns(lines_by_period.get(label, [])),
            balance_rows=[row for result in engine_results
                          for row in _balance_rows(result, label, inputs.plan_currency, inputs.periods)],
            period=period,
        ))
    return prepared

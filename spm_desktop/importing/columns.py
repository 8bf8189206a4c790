"""Compact source columns: each distinct cell once, and per row the position of its cell.

A column of a million cells usually has far fewer distinct values (owners, stages,
dates), so the engine keeps its cells as ``uniques`` plus an int32 ``codes`` array and
parses only the distinct values. ``expand_result`` turns a parse of the distinct values
back into one value per row, and repeats each cell issue for every row with that cell.
The parsers' column decisions (decimal mark, day/month order) already look at distinct
values only, so parsing the distinct cells gives the same values and issues.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from spm_desktop.importing.parsing import ColumnResult, Issue


class CodedColumn(Sequence):
    """One source column as distinct cells (``uniques``) and an int32 code per row."""

    def __init__(self, codes: np.ndarray, uniques: list[object]) -> None:
        self.codes = codes
        self.uniques = uniques

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.uniques[code] for code in self.codes[index].tolist()]
        return self.uniques[self.codes[index]]

    def expand(self, per_unique: Sequence[object]) -> list[object]:
        """Return one value per row from a value per distinct cell."""
        table = np.empty(len(per_unique), dtype=object)
        table[:] = list(per_unique)
        return table.take(self.codes).tolist()

    def rows_of(self, unique_indexes: Iterable[int]) -> dict[int, list[int]]:
        """Return, for each given distinct-cell index, the ascending row positions holding it."""
        selected = np.fromiter(set(unique_indexes), dtype=np.int64)
        if not len(selected):
            return {}
        positions = np.flatnonzero(np.isin(self.codes, selected))
        codes = self.codes[positions]
        order = np.argsort(codes, kind="stable")
        positions, codes = positions[order], codes[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        groups = np.split(positions, bounds)
        return {int(group_codes[0]): group.tolist()
                for group, group_codes in zip(groups, np.split(codes, bounds), strict=True) if len(group)}

    def expand_result(self, result: ColumnResult) -> ColumnResult:
        """Return the result of a parse of ``uniques`` as if every row had been parsed.

        Column issues keep their order; cell issues and normalised cells are listed in row order.
        """
        values = self.expand(result.values)
        cell_issues = [issue for issue in result.issues if issue.index is not None]
        rows = self.rows_of([issue.index for issue in cell_issues] + list(result.normalised))  # type: ignore[misc]
        issues = [issue for issue in result.issues if issue.index is None]
        expanded = [(row, order, issue) for order, issue in enumerate(cell_issues)
                    for row in rows.get(issue.index, ())]  # type: ignore[arg-type]
        expanded.sort(key=lambda item: (item[0], item[1]))
        issues += [Issue(row, issue.code, issue.severity, issue.message, issue.value) for row, _order, issue in expanded]
        normalised = sorted(row for unique in result.normalised for row in rows.get(unique, ()))
        return ColumnResult(values, issues, normalised, result.decision)


class CodedColumnBuilder:
    """Builder of a CodedColumn from chunks of cells, assigning codes in order of first appearance.

    Equal cells share a code, so one string object stands for all its rows. Each chunk
    is factorized on its own and ``finish`` merges the chunks' distinct cells, all in C.
    ``True`` and ``1`` are equal in Python, so once a column mixes booleans with numbers
    its cells are keyed by type as well, and a TRUE cell never reads as the number 1.
    """

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self.typed = False
        self.kinds: set[type] = set()
        self.lookup: dict[object, int] = {}
        self.uniques: list[object] = []

    def add(self, cells: Sequence[object]) -> None:
        if not self.typed:
            self.kinds |= set(map(type, cells))
            if bool in self.kinds and (int in self.kinds or float in self.kinds):
                self._switch_to_typed_keys()
        if self.typed:
            self._add_typed(cells)
            return
        array = np.empty(len(cells), dtype=object)
        array[:] = cells
        # factorize hashes in C and gives empty cells (None, NaN) the code -1.
        self.chunks.append(pd.factorize(array))

    def _switch_to_typed_keys(self) -> None:
        column = self._merge_chunks()
        self.typed = True
        self.uniques = column.uniques
        self.lookup = {(type(cell), cell): code for code, cell in enumerate(self.uniques)}
        self.chunks = [(column.codes, np.zeros(0, dtype=object))] if len(column) else []

    def _add_typed(self, cells: Sequence[object]) -> None:
        keys = [(type(cell), cell) for cell in cells]
        lookup = self.lookup
        for key in dict.fromkeys(keys):
            if key not in lookup:
                lookup[key] = len(self.uniques)
                self.uniques.append(key[1])
        codes = np.array(list(map(lookup.__getitem__, keys)), dtype=np.int32)
        self.chunks.append((codes, np.zeros(0, dtype=object)))

    def _merge_chunks(self) -> CodedColumn:
        """Return the chunks added so far as one column, with codes into the distinct cells of all of them."""
        if self.typed:
            codes = np.concatenate([codes for codes, _ in self.chunks]) if self.chunks else np.zeros(0, np.int32)
            return CodedColumn(codes.astype(np.int32), self.uniques)
        if not self.chunks:
            return CodedColumn(np.zeros(0, dtype=np.int32), [])
        merged_codes, uniques = pd.factorize(np.concatenate([chunk_uniques for _, chunk_uniques in self.chunks]))
        empty_code = len(uniques)
        parts = []
        offset = 0
        for chunk_codes, chunk_uniques in self.chunks:
            # Index -1 (an empty cell in the chunk) picks the code appended last.
            remap = np.append(merged_codes[offset:offset + len(chunk_uniques)], empty_code)
            parts.append(remap[chunk_codes].astype(np.int32))
            offset += len(chunk_uniques)
        codes = np.concatenate(parts)
        cells = uniques.tolist()
        if (codes == empty_code).any():
            cells.append(None)
        return CodedColumn(codes, cells)

    def finish(self) -> CodedColumn:
        column = self._merge_chunks()
        self.chunks = []
        self.lookup = {}
        return column


def same_throughout(column: Sequence[object]) -> bool:
    """Return whether every cell of a non-empty column equals the first.

    Three cells are compared first, because nearly every column that varies differs there
    and the full count in C is then skipped.
    """
    first = column[0]
    if column[-1] != first or column[len(column) // 2] != first:
        return False
    return column.count(first) == len(column)

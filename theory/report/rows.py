"""Trial rows, read as one flat dict per row (``r["plugin"]``, ``r.get("rob_src")``), looked up by
(plugin, seed) in time linear in the rows.

:class:`Rows` holds either the dicts it was given (a store's trials) or, for a large imported table,
its columns: numbers in float64 arrays (NaN reads as None), seeds in an int64 array, names (plugin,
status) as codes into a list of the distinct names, anything else in a list. A row of a columnar
table is built as a dict when it is read (by index, by iteration, by :meth:`Rows.of`), so a row
held takes the bytes of its values (8 a number, 4 a name), not a dict and an object per value; such
a dict is a copy, and writing into it changes nothing. The rows are sorted by (plugin, seed) once,
stably, on first lookup: :meth:`Rows.of` and :meth:`Rows.reference` then look at a handful of rows,
never at all of them.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

CHUNK = 4096  # rows built into dicts at a time while iterating a columnar table


@dataclass(frozen=True)
class Names:
    """A column of names as ``codes`` (int32) into ``names``."""

    codes: np.ndarray
    names: list[str]


Column = np.ndarray | Names | list


def _values(col: Column, where: slice | np.ndarray) -> list:
    """The Python values of ``col`` at ``where`` (NaN of a float column as None)."""
    if isinstance(col, Names):
        return [col.names[c] for c in col.codes[where].tolist()]
    if isinstance(col, np.ndarray):
        values = col[where].tolist()
        return [None if v != v else v for v in values] if col.dtype.kind == "f" else values
    return col[where] if isinstance(where, slice) else [col[i] for i in where.tolist()]


def _value(col: Column, i: int):
    """The Python value of ``col`` at row ``i`` (NaN of a float column as None)."""
    if isinstance(col, Names):
        return col.names[col.codes[i]]
    if isinstance(col, np.ndarray):
        value = col[i].item()
        return None if value != value else value
    return col[i]


class Builder:
    """Columns filled one row (a dict) at a time: ``kinds`` maps each key to ``"float"`` (None kept
    as NaN), ``"int"``, ``"name"`` (any hashable value, stored as a code) or ``"object"``.
    :meth:`rows` returns the columnar :class:`Rows`."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self._columns: dict[str, tuple] = {}
        self._adders = []
        for key, kind in kinds.items():
            store = array(TYPECODES[kind]) if kind in TYPECODES else []
            lookup: dict = {}
            self._columns[key] = (kind, store, lookup)
            self._adders.append((key, _adder(kind, store, lookup)))

    def add(self, row: dict) -> None:
        for key, add in self._adders:
            add(row.get(key))

    def rows(self) -> Rows:
        columns: dict[str, Column] = {}
        for key, (kind, store, lookup) in self._columns.items():
            values = np.frombuffer(store, DTYPES[kind]) if kind in DTYPES else store
            columns[key] = Names(values, list(lookup)) if kind == "name" else values
        return Rows.from_columns(columns)


TYPECODES = {"float": "d", "int": "q", "name": "i"}  # array.array's, one per kind
DTYPES = {"float": np.float64, "int": np.int64, "name": np.int32}  # the same, as numpy reads them


def _adder(kind: str, store, lookup: dict):
    if kind == "float":
        return lambda v: store.append(math.nan if v is None else v)
    if kind == "name":
        return lambda v: store.append(lookup.setdefault(v, len(lookup)))
    return store.append


class Rows(Sequence):
    """Trial rows (module docstring): ``Rows(dicts)`` keeps the dicts; :meth:`from_columns` (or a
    :class:`Builder`) holds columns. Both read the same: ``len``, index, iteration, :meth:`of`,
    :meth:`reference`."""

    def __init__(self, rows: Iterable[dict] = ()) -> None:
        self._dicts: list[dict] | None = list(rows)
        self._columns: dict[str, Column] = {}
        self._n = len(self._dicts)
        self._sorted: tuple | None = None

    @classmethod
    def from_columns(cls, columns: dict[str, Column]) -> Rows:
        """Rows over ``columns`` (each of one length; ``plugin`` a :class:`Names`, ``seed`` int64)."""
        rows = cls()
        rows._dicts, rows._columns = None, dict(columns)
        plugin = columns["plugin"]
        rows._n = len(plugin.codes if isinstance(plugin, Names) else plugin)
        return rows

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if self._dicts is not None:
            return self._dicts[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return {key: _value(col, i % self._n) for key, col in self._columns.items()}

    def __iter__(self) -> Iterator[dict]:
        if self._dicts is not None:
            yield from self._dicts
            return
        keys = list(self._columns)
        for start in range(0, self._n, CHUNK):
            chunk = [_values(col, slice(start, start + CHUNK)) for col in self._columns.values()]
            for values in zip(*chunk, strict=True):
                yield dict(zip(keys, values, strict=True))

    def column(self, key: str) -> np.ndarray:
        """``key``'s values as an array (a float or int column as it is; a names column as names)."""
        col = self._columns.get(key)
        if isinstance(col, np.ndarray):
            return col
        if isinstance(col, Names):
            return np.array(col.names, dtype=object)[col.codes]
        return np.array([r.get(key) for r in self] if col is None else col)

    def with_column(self, key: str, values: np.ndarray) -> Rows:
        """These rows with column ``key`` set to ``values`` (one per row; NaN reads as None)."""
        if self._dicts is not None:
            return Rows({**r, key: None if v != v else v} for r, v in zip(self._dicts, values.tolist(), strict=True))
        return Rows.from_columns({**self._columns, key: values})

    def group_keys(self) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
        """(plugin codes, code by plugin name, seeds): the rows' plugins as integer codes and their seeds."""
        col = self._columns.get("plugin")
        if isinstance(col, Names):
            return col.codes, {name: i for i, name in enumerate(col.names)}, self._columns["seed"]
        lookup: dict[str, int] = {}
        codes = np.fromiter((lookup.setdefault(r["plugin"], len(lookup)) for r in self), np.int64, self._n)
        return codes, lookup, np.fromiter((r["seed"] for r in self), np.int64, self._n)

    def _index(self) -> tuple:
        """(order sorting the rows by plugin code then seed, stably; codes and seeds in that order;
        code by name), computed once."""
        if self._sorted is None:
            codes, lookup, seeds = self.group_keys()
            order = np.lexsort((seeds, codes))
            self._sorted = (order, codes[order], seeds[order], lookup)
        return self._sorted

    def positions(self, plugin: str, seed: int) -> np.ndarray:
        """Indices of ``plugin``'s rows of ``seed``, in table order."""
        order, codes, seeds, lookup = self._index()
        code = lookup.get(plugin)
        if code is None:
            return order[:0]
        lo, hi = np.searchsorted(codes, code, "left"), np.searchsorted(codes, code, "right")
        block = seeds[lo:hi]
        return order[lo + np.searchsorted(block, seed, "left"):lo + np.searchsorted(block, seed, "right")]

    def of(self, plugin: str, seed: int) -> list[dict]:
        """``plugin``'s rows of ``seed``, in table order."""
        return [self[i] for i in self.positions(plugin, seed).tolist()]

    def reference(self, plugin: str, identity: float, seed: int) -> dict | None:
        """The last row of ``plugin`` and ``seed`` at ``identity``, else the last ``vanilla`` row of
        ``seed``; None when there is neither."""
        mine = self.positions(plugin, seed).tolist()
        strength = (lambda i: self._dicts[i]["strength"]) if self._dicts is not None else \
            (lambda i: _value(self._columns["strength"], i))
        found = [i for i in mine if strength(i) == identity] or self.positions("vanilla", seed).tolist()
        return self[found[-1]] if found else None

    def references(self, identity: dict[str, float]) -> np.ndarray:
        """:meth:`reference` of every row at once, as row indices (-1: none); ``identity``: each
        plugin's identity strength. Vectorized over the (plugin, seed) groups of :meth:`_index`."""
        order, codes_s, seeds_s, lookup = self._index()
        if not self._n:
            return np.zeros(0, np.int64)
        first = np.r_[True, (codes_s[1:] != codes_s[:-1]) | (seeds_s[1:] != seeds_s[:-1])]
        group, starts = np.cumsum(first, dtype=np.int64) - 1, np.flatnonzero(first)  # by sorted position
        ident = np.array([identity[name] for name in lookup], np.float64)  # lookup is in code order
        at = np.flatnonzero(self.column("strength")[order] == ident[codes_s])
        last = np.full(len(starts), -1, np.int64)
        np.maximum.at(last, group[at], order[at])  # each group's last row at the identity
        ref = np.empty(self._n, np.int64)
        ref[order] = last[group]
        need, vanilla = np.flatnonzero(ref < 0), lookup.get("vanilla")
        if vanilla is None or not len(need):
            return ref
        ours = np.flatnonzero(codes_s[starts] == vanilla)  # the vanilla groups, by seed
        seeds, found = self.group_keys()[2][need], seeds_s[starts[ours]]
        k = np.minimum(np.searchsorted(found, seeds), len(ours) - 1)
        ref[need] = np.where(found[k] == seeds, order[np.r_[starts[1:], self._n][ours] - 1][k], -1)
        return ref

    def equals(self, key: str, value: object) -> np.ndarray:
        """Whether each row's ``key`` is ``value``, as a boolean array."""
        col = self._columns.get(key)
        if isinstance(col, Names):
            return col.codes == (col.names.index(value) if value in col.names else -1)
        return np.array([r.get(key) == value for r in self], bool)



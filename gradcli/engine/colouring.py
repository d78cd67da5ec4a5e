"""Colourings that compress a sparse Jacobian or Hessian into a few products.

Gebremedhin, Manne and Pothen, "What color is your Jacobian? Graph coloring
for computing derivatives", SIAM Review 47 (2005):

* Jacobian, columns: a *distance-1 colouring of the column intersection
  graph* (two columns clash when they share a row). Columns of one colour
  are summed into one seed direction; J @ seed holds each entry unmixed.
* Hessian, symmetric: a *star colouring* of the adjacency graph (a proper
  colouring in which every path on four vertices has at least three
  colours). Then for every nonzero H[i, j] one of its ends is the only
  neighbour of the other in its colour class, so it is read directly off
  H @ seed (direct symmetric recovery). An arrowhead needs two colours
  where a distance-2 colouring would need n.

Both greedy colourings are Python loops over vertices costing O(n + nnz)
cheap steps for bounded degree. Before them comes a vectorised shortcut,
the classic Curtis-Powell-Reid one for banded matrices: colour k mod w is
valid when every row spans fewer than w columns (Jacobian) or the
bandwidth is b and w = 2b + 1 (Hessian, a distance-2 colouring, hence a
star colouring). For a Jacobian it is taken when w is within twice the
lower bound (the densest row); for a Hessian when some row fills the band
(2b + 1 entries with its diagonal: tridiagonal gives 3 colours), so an
arrowhead, whose band is the whole matrix, still goes to greedy.
"""

from __future__ import annotations

import numpy as np


def _row_spans(rows: np.ndarray, cols: np.ndarray) -> tuple[int, int]:
    """(widest row span, densest row count) of a pattern sorted by row."""
    if rows.size == 0:
        return 0, 0
    starts = np.concatenate(([0], np.flatnonzero(np.diff(rows)) + 1))
    ends = np.concatenate((starts[1:], [rows.size])) - 1
    span = int(np.max(cols[ends] - cols[starts])) + 1
    return span, int(np.max(ends - starts + 1))


def _sorted(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((cols, rows))
    return rows[order], cols[order]


def column_colouring(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> np.ndarray:
    """Colours 0..p-1 of the columns such that no row holds two columns of one colour."""
    if rows.size == 0:
        return np.zeros(n_cols, dtype=np.int64)
    rows, cols = _sorted(rows, cols)
    span, densest = _row_spans(rows, cols)
    if span <= max(2 * densest, 2):
        return np.arange(n_cols, dtype=np.int64) % span
    # greedy, largest column first: the rows of each column remember their colours
    order = np.lexsort((rows, cols))
    by_col_rows = rows[order]
    col_ptr = np.searchsorted(cols[order], np.arange(n_cols + 1))
    degree = np.diff(col_ptr)
    used: list[set[int]] = [set() for _ in range(int(rows.max()) + 1)]
    colour = np.zeros(n_cols, dtype=np.int64)
    ptr = col_ptr.tolist()
    members = by_col_rows.tolist()
    for j in np.argsort(-degree, kind="stable").tolist():
        its_rows = members[ptr[j]:ptr[j + 1]]
        forbidden: set[int] = set()
        for i in its_rows:
            forbidden |= used[i]
        c = 0
        while c in forbidden:
            c += 1
        colour[j] = c
        for i in its_rows:
            used[i].add(c)
    return colour


def star_colouring(rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """Colours 0..p-1 of a symmetric pattern's vertices: a star colouring.

    Greedy, largest degree first. Colouring v with c must keep the coloured
    part a star colouring: c differs from the neighbours' colours; no path
    v-w-x-y coloured c,a,c,a (x a neighbour of w with colour c that has two
    neighbours of colour a = colour(w): `bad[w]` holds such colours); no path
    x-v-w-y coloured a,c,a,c (v with two neighbours of colour a, and w of
    them has a neighbour coloured c). `count[w]` counts w's coloured
    neighbours per colour, so each test is a lookup, not a walk."""
    off = rows != cols
    rows, cols = rows[off], cols[off]
    if rows.size == 0:
        return np.zeros(n, dtype=np.int64)
    rows, cols = _sorted(rows, cols)
    bandwidth = int(np.max(np.abs(rows - cols)))
    _, densest = _row_spans(rows, cols)
    if 2 * bandwidth + 1 <= densest + 1:
        return np.arange(n, dtype=np.int64) % (2 * bandwidth + 1)
    ptr = np.searchsorted(rows, np.arange(n + 1)).tolist()
    adjacency = cols.tolist()
    degree = np.diff(np.asarray(ptr))
    colour = [-1] * n
    count: list[dict[int, int]] = [{} for _ in range(n)]
    bad: list[set[int]] = [set() for _ in range(n)]
    for v in np.argsort(-degree, kind="stable").tolist():
        neighbours = adjacency[ptr[v]:ptr[v + 1]]
        forbidden: set[int] = set()
        mine = count[v]
        for w in neighbours:
            a = colour[w]
            if a < 0:
                continue
            forbidden.add(a)
            forbidden |= bad[w]
            if mine.get(a, 0) >= 2:
                forbidden.update(k for k, m in count[w].items() if m > 0)
        c = 0
        while c in forbidden:
            c += 1
        colour[v] = c
        # v's neighbours that already see two of some colour a: v is now a hub's
        # coloured centre for them, so colour c is bad next to those neighbours
        for a, m in mine.items():
            if m >= 2:
                for z in neighbours:
                    if colour[z] == a:
                        bad[z].add(c)
        for w in neighbours:
            seen = count[w]
            m = seen.get(c, 0) + 1
            seen[c] = m
            a = colour[w]
            if a < 0 or m < 2:
                continue
            if m == 2:
                for z in adjacency[ptr[w]:ptr[w + 1]]:
                    if colour[z] == c:
                        bad[z].add(a)
            else:
                bad[v].add(a)
    return np.asarray(colour, dtype=np.int64)


def is_star_colouring(rows: np.ndarray, cols: np.ndarray, colour: np.ndarray) -> bool:
    """Every nonzero is recoverable: for each edge (i, j), j is i's only neighbour of
    colour(j), or i is j's only neighbour of colour(i) (equivalent to a proper
    colouring with no two-coloured path on four vertices)."""
    off = rows != cols
    rows, cols = rows[off], cols[off]
    if rows.size == 0:
        return True
    if np.any(colour[rows] == colour[cols]):
        return False
    unique = _neighbour_counts(rows, cols, colour)
    return bool(np.all(unique | unique[_transpose_index(rows, cols)]))


def _neighbour_counts(rows: np.ndarray, cols: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Per entry (i, j): whether j is the only neighbour of i with colour(j)."""
    p = int(colour.max()) + 1 if colour.size else 1
    keys = rows.astype(np.int64) * p + colour[cols]
    span = (int(rows.max()) + 1) * p if rows.size else 0
    if span <= 8 * keys.size + 1024:  # few colours: count by table, not by sorting
        return np.asarray(np.bincount(keys, minlength=span)[keys] == 1)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.asarray(counts[inverse] == 1)


def _transpose_index(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """For a symmetric pattern, the position of entry (j, i) for each entry (i, j)."""
    n = int(max(rows.max(), cols.max())) + 1
    keys = rows.astype(np.int64) * n + cols
    order = np.argsort(keys)
    return np.asarray(order[np.searchsorted(keys[order], cols.astype(np.int64) * n + rows)])


def recover_symmetric(rows: np.ndarray, cols: np.ndarray, colour: np.ndarray,
                      compressed: np.ndarray) -> np.ndarray:
    """H's entries at (rows, cols) from compressed = H @ seed (n x p), star colouring.

    H[i, j] is compressed[i, colour(j)] when j is i's only neighbour of that colour,
    else compressed[j, colour(i)]; a diagonal entry is compressed[i, colour(i)]."""
    values = compressed[rows, colour[cols]]
    off = np.flatnonzero(rows != cols)
    if off.size:
        r, c = rows[off], cols[off]
        unique = _neighbour_counts(r, c, colour)
        values[off] = np.where(unique, compressed[r, colour[c]], compressed[c, colour[r]])
    return np.asarray(values)

"""Batch work past one machine: the same read → compute → write loop, on a Dask cluster.

The client plans *work units* itself (Parquet row groups from the footers, CSV and
JSONL byte ranges split on newlines with exact line offsets, or whole files), so
that every record keeps its true file line number and every unit becomes one part
file. Workers rebuild the batch kernel from the command and expression text and
return row counts; the client renames finished parts into place and commits the
output directory with a `_SUCCESS` manifest written last.

Nothing here imports Dask at module level: `scheduler.connect` is the one place
that does, and only when a scheduler was asked for.
"""

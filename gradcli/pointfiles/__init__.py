"""Point-file data: where points come from, how each format reads into chunks, and where records go.

This package knows files and formats (CSV, JSON lines, Parquet, Arrow, NPZ; local paths,
globs, stdin, URLs) and nothing of expressions or derivatives: `gradcli.batch` hands it
columns to write and asks it for chunks of points.
"""

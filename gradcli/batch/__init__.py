"""Many points, one expression: point files in and out, chunking, vectorised runs."""

DEFAULT_CHUNK = 65536
"""Points read, computed and written at a time. Big enough that every thread gets
several replay blocks per chunk; small enough that memory stays in the tens of MB."""

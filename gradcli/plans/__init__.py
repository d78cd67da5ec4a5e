"""Plan compilation: a recorded batch computation, simplified, replayed or made machine code.

This package knows op-table entries and recorded entries, and nothing of files or of
scheduling: `gradcli.batch` records a chunk, asks for a plan (`plan`), and runs it with
numpy or through the compiled back end (`lower`, `jit`, `compiled`; `engines` picks).
"""

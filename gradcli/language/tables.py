"""The grammar, analysed by Lark into LALR(1) tables, as plain data.

Lark is gradcli's parser generator: it reads `grammar/gradcli.lark` and
computes the LALR(1) automaton. Those tables, with the lexer's terminal
patterns in Lark's matching order and each rule's child-filtering, are all a
parser needs at run time, and as a Python literal they load in a fraction of
the time that importing Lark and rebuilding (or unpickling) its parser takes.

`generated_tables.py` holds them, stamped with the grammar's checksum. The
generator (`gradcli.language.tablegen`, which imports this module, never the
other way round) is a development step and never runs at run time: if the
grammar changes and the stamp no longer matches, `load_tables` raises a clear
error naming the command that rewrites the file
(`python -m gradcli.language.tablegen`), and a test fails until it is run.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

from gradcli.errors import StaleTablesError


def grammar_path() -> str:
    """The grammar ships inside the wheel; in a source checkout it is ../grammar."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(package, "grammar", "gradcli.lark"),
                      os.path.join(os.path.dirname(package), "grammar", "gradcli.lark")):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError("gradcli's grammar file (gradcli.lark) is missing from the install")


def read_grammar() -> str:
    with open(grammar_path(), encoding="utf-8") as f:
        return f.read()


def checksum(grammar: str) -> str:
    return f"{zlib.crc32(grammar.encode('utf-8')):08x}-{len(grammar)}"


def load_tables() -> dict[str, Any]:
    """The tables for the grammar as installed: the generated module if it is current."""
    grammar = read_grammar()
    try:
        from gradcli.language.generated_tables import TABLES
    except ImportError:  # a checkout where the file was deleted
        TABLES = {}
    if TABLES.get("checksum") == checksum(grammar):
        return TABLES
    raise StaleTablesError(
        "gradcli's parse tables do not match its grammar (grammar/gradcli.lark changed "
        "since generated_tables.py was written)",
        hint="run `python -m gradcli.language.tablegen` (needs the `lark` package), "
             "then reinstall")

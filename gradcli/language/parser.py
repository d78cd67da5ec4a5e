"""From text to instructions: the Lark LALR parser, its post-lexer, and syntax errors.

The parser is built once per process (and its analysis cached on disk by
Lark), with the instruction builder attached as inline callbacks: each rule
is handed to the builder as the parser reduces it, so no parse tree is built
and nothing recurses, however deep the expression.
"""

from __future__ import annotations

import _thread
import os
import sys
import zlib
from collections.abc import Iterator
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from gradcli.errors import GradcliError, Span, SyntaxProblem

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB"}
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB"}
_SYMBOL = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]"}


def grammar_path() -> str:
    """The grammar ships inside the wheel; in a source checkout it is ../grammar."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(package, "grammar", "gradcli.lark"),
                      os.path.join(os.path.dirname(package), "grammar", "gradcli.lark")):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError("gradcli's grammar file (gradcli.lark) is missing from the install")


class PostLexer:
    """Between the lexer and the parser.

    * inserts IMPLICIT where implicit multiplication is allowed (2x, 3(x+1), (a)(b));
    * drops newlines inside brackets, so long expressions can span lines;
    * checks bracket balance, so an unclosed bracket is reported at its opening.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        previous: Token | None = None
        open_brackets: list[Token] = []
        meaningful = False
        for token in stream:
            kind = token.type
            if kind == "_NL":
                if open_brackets:
                    continue
            elif kind in _OPENERS:
                open_brackets.append(token)
            elif kind in _CLOSERS:
                if not open_brackets:
                    raise SyntaxProblem(
                        f"unmatched '{token.value}'", span=_span(token),
                        hint="remove it, or add the opening bracket it closes")
                opener = open_brackets.pop()
                if opener.type != _CLOSERS[kind]:
                    raise SyntaxProblem(
                        f"'{token.value}' closes the '{opener.value}' opened at column "
                        f"{(opener.start_pos or 0) + 1}", span=_span(opener),
                        hint=f"close it with '{_SYMBOL[_OPENERS[opener.type]]}'")
            if kind not in ("_NL", "SEMI"):
                meaningful = True
            if previous is not None and (
                    (previous.type == "NUMBER" and kind in ("NAME", "LPAR"))
                    or (previous.type == "RPAR" and kind == "LPAR")):
                yield Token.new_borrow_pos("IMPLICIT", "", token)
            yield token
            previous = token
        if open_brackets:
            opener = open_brackets[-1]
            raise SyntaxProblem(
                f"'{opener.value}' is never closed", span=_span(opener),
                hint=f"add a matching '{_SYMBOL[_OPENERS[opener.type]]}'")
        if not meaningful:
            raise SyntaxProblem("the expression is empty", span=Span(0, 0),
                                hint='write an expression, e.g. "x^2 + 1"')


def _span(token: Token) -> Span:
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else start + len(token.value)
    return Span(start, max(end, start + 1))


_lock = _thread.allocate_lock()
_parser: Lark | None = None
_OPTIONS: dict[str, Any] = {"parser": "lalr", "lexer": "basic", "maybe_placeholders": False,
                            "propagate_positions": False}


def get_parser(builder: Any) -> Lark:
    """The one Lark parser of this process, with `builder` as its inline callbacks.

    Analysing the grammar takes longer than a whole small job, so the analysed
    parser is kept in the user's cache directory, keyed by the grammar's
    checksum and the Lark and Python versions, and loaded from there on later
    runs. A missing or unwritable cache only costs time.
    """
    global _parser
    if _parser is None:
        with open(grammar_path(), encoding="utf-8") as f:
            grammar = f.read()
        cached = _cache_file(grammar)
        if cached is not None and os.path.isfile(cached):
            try:
                with open(cached, "rb") as f:
                    _parser = Lark.__new__(Lark)._load(f, postlex=PostLexer(), transformer=builder)
            except Exception:  # a stale or damaged cache entry: rebuild below
                _parser = None
        if _parser is None:
            _parser = Lark(grammar, postlex=PostLexer(), transformer=builder, **_OPTIONS)
            if cached is not None:
                _save(_parser, cached)
    return _parser


def _cache_file(grammar: str) -> str | None:
    import lark

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not base or base == os.path.join("~", ".cache"):
        return None
    key = f"{zlib.crc32(grammar.encode()):08x}-{len(grammar)}-lark{lark.__version__}-py" \
          f"{sys.version_info[0]}{sys.version_info[1]}"
    return os.path.join(base, "gradcli", f"parser-{key}.pickle")


def _save(parser: Lark, path: str) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as f:
            parser.save(f, exclude_options={"postlex", "transformer"})
        os.replace(temporary, path)  # atomic: readers never see half a file
    except OSError:
        pass


def parse_with(builder: Any, text: str) -> Any:
    """Parse `text`, letting `builder` turn reductions into instructions."""
    with _lock:
        parser = get_parser(builder)
        builder.reset(text)
        try:
            return parser.parse(text)
        except GradcliError:
            raise
        except UnexpectedInput as exc:
            raise _syntax_error(exc, text) from None


def _syntax_error(exc: UnexpectedInput, text: str) -> SyntaxProblem:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        return SyntaxProblem(
            f"unexpected character {char!r}", span=Span(pos, pos + 1),
            hint="expressions use numbers, names, + - * / ^ @, ( ), [ ], commas, ; and #")
    if isinstance(exc, UnexpectedEOF) or (
            isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _ends_too_early(text)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    previous = _token_before(text, token.start_pos or 0)
    span = _span(token)
    if token.type == "NAME" and previous is not None and previous[1] == "NAME":
        word = text[previous[0].start:previous[0].end]
        return SyntaxProblem(
            f"two names side by side: '{word} {token.value}'", span=Span(previous[0].start,
                                                                        span.end),
            hint=f"write {word}*{token.value} for a product (only a number may precede a "
                 "name directly, as in 2x)")
    if token.type == "IMPLICIT":
        return SyntaxProblem("a number or ')' cannot be followed by this here",
                             span=span, hint="write * between the two factors")
    if token.type == "ASSIGN":
        return SyntaxProblem("'=' names a step and only fits at the start of a statement",
                             span=span, hint="write a = x + 1; a * 2, or use == to compare "
                                             "inside where(...)")
    if token.type == "COMPARE":
        return SyntaxProblem(f"a comparison ('{token.value}') only fits where a condition is "
                             "expected", span=span,
                             hint="use it as a condition, e.g. where(x > 0, x, 0)")
    shown = token.value if token.value else token.type
    return SyntaxProblem(f"unexpected '{shown}'", span=span, hint=_expected_hint(exc))


def _expected_hint(exc: UnexpectedToken) -> str:
    names = {"NAME": "a name", "NUMBER": "a number", "LPAR": "'('", "RPAR": "')'",
             "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "PLUS": "'+'", "MINUS": "'-'",
             "STAR": "'*'", "SLASH": "'/'", "POW": "'^'", "COLON": "':'", "SEMI": "';'"}
    expected = sorted({names[e] for e in exc.expected if e in names})
    if not expected:
        return "check the expression around this point"
    return "expected " + ", ".join(expected[:6]) + (" ..." if len(expected) > 6 else "")


def _ends_too_early(text: str) -> SyntaxProblem:
    stripped = text.rstrip()
    # strip a trailing comment: it is not where the expression ends
    last_line_start = stripped.rfind("\n") + 1
    hash_at = stripped.find("#", last_line_start)
    if hash_at >= 0:
        stripped = stripped[:hash_at].rstrip()
    end = len(stripped)
    last = stripped[-1:] if stripped else ""
    if last in "+-*/^@,=<>!:":
        start = end - 1
        if stripped[-2:] in ("**", "<=", ">=", "==", "!="):
            start = end - 2
        return SyntaxProblem(f"the expression ends with the operator '{stripped[start:end]}'",
                             span=Span(start, end),
                             hint="add what it applies to, or remove it")
    return SyntaxProblem("the expression ends too early", span=Span(max(end - 1, 0), max(end, 1)),
                         hint="finish the expression")


def _token_before(text: str, pos: int) -> tuple[Span, str] | None:
    """The kind of the token just before `pos` (only names and numbers matter here)."""
    i = pos
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    end = i
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_" or text[i - 1] == "."):
        i -= 1
    if i == end:
        return None
    word = text[i:end]
    kind = "NUMBER" if word[0].isdigit() or word[0] == "." else "NAME"
    return Span(i, end), kind

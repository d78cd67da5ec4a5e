"""From text to instructions: lexer, post-lexer, LALR(1) driver, and syntax errors.

The automaton is Lark's analysis of `grammar/gradcli.lark` (see `tables`); this
module runs it. The driver reduces exactly as Lark's LALR parser does (same
child filtering, `_rule` inlining and `?rule` single-child pass-through), and
hands each reduction to the instruction builder as it happens: no parse tree
is built and nothing recurses, however deep the expression. Running the
tables here rather than through Lark's runtime means a command never imports
Lark, which would cost more start-up time than a whole small job.
"""

from __future__ import annotations

import _thread
import re
from collections.abc import Callable
from typing import Any

from gradcli.engine.collector import no_cycle_collection
from gradcli.errors import GradcliError, Span, SyntaxProblem
from gradcli.language.tables import grammar_path, load_tables

__all__ = ["Token", "grammar_path", "parse_with"]

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "BAR": "RBAR"}
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB", "RBAR": "BAR"}
_SYMBOL = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "BAR": "|", "RBAR": "|"}
#: tokens that end an operand: a '|' right after one closes the innermost open '|'
_OPERAND_ENDS = frozenset({"NUMBER", "NAME", "RPAR", "RSQB", "RBAR", "BANG"})
#: implicit multiplication: (token before, token after) pairs that insert IMPLICIT
_IMPLICIT = frozenset({("NUMBER", "NAME"), ("NUMBER", "LPAR"), ("NUMBER", "BAR"),
                       ("RPAR", "LPAR"), ("RPAR", "BAR"), ("RBAR", "LPAR"), ("RBAR", "BAR")})


class Token:
    """A terminal: its kind (the grammar's terminal name), its text, its span."""

    __slots__ = ("end_pos", "start_pos", "type", "value")

    def __init__(self, type: str, value: str, start_pos: int, end_pos: int):
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.start_pos})"


class _Splice(list):
    """The children of an inlined `_rule`, to be spread into its parent's children."""


class _UnexpectedToken(Exception):
    def __init__(self, token: Token, expected: set[str]):
        self.token = token
        self.expected = expected


#: implicit multiplication: for each token kind, the kinds right after it that insert
#: IMPLICIT (the pairs above, as sets for one lookup a token)
_IMPLICIT_AFTER = {before: frozenset(after for b, after in _IMPLICIT if b == before)
                   for before, _ in _IMPLICIT}


def post_lex(tokens: list[Token], problem: SyntaxProblem | None = None,
             ) -> tuple[list[Token], SyntaxProblem | None]:
    """Between the lexer and the parser, one pass over the tokens.

    Returns the tokens for the parser and the first problem found, if any: the
    tokens then stop where it was found (the lexer's own `problem` comes after
    them all), so the parser reports a syntax error before it as if it had
    read token by token.

    * inserts IMPLICIT where implicit multiplication is allowed (2x, 3(x+1), (a)(b),
      2|x|);
    * tells a closing '|' from an opening one: a '|' right after the end of an operand
      closes the innermost open '|' (if that is the innermost open bracket), any other
      opens one; so ||x| - 1| and |a - |b|| read as they look;
    * drops newlines inside brackets, so long expressions can span lines;
    * checks bracket balance, so an unclosed bracket is reported at its opening;
    * refuses `x!!` and a number run into `e` (`5e`), which are almost always slips.
    """
    out: list[Token] = []
    try:
        _post_lex(tokens, out, problem)
    except SyntaxProblem as found:
        return out, found
    return out, problem


def _post_lex(tokens: list[Token], out: list[Token], problem: SyntaxProblem | None) -> None:
    append = out.append
    previous: Token | None = None
    previous_kind = ""
    open_brackets: list[Token] = []
    meaningful = False
    implicit_after = _IMPLICIT_AFTER
    for token in tokens:
        kind = token.type
        if kind == "BAR" and previous_kind in _OPERAND_ENDS \
                and open_brackets and open_brackets[-1].type == "BAR":
            token = Token("RBAR", token.value, token.start_pos, token.end_pos)
            kind = "RBAR"
        elif previous is not None and (kind == "BANG" or (kind == "NAME"
                                       and previous_kind == "NUMBER")):
            _check_slip(previous, token)
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
                    f"{opener.start_pos + 1}", span=_span(opener),
                    hint=f"close it with '{_SYMBOL[_OPENERS[opener.type]]}'")
        if not meaningful and kind != "_NL" and kind != "SEMI":
            meaningful = True
        after = implicit_after.get(previous_kind)
        if after is not None and kind in after:
            append(Token("IMPLICIT", "", token.start_pos, token.start_pos))
        append(token)
        previous = token
        previous_kind = kind
    if problem is not None:
        return  # the lexer stopped early: the checks at the end do not apply
    if open_brackets:
        opener = open_brackets[-1]
        raise SyntaxProblem(
            f"'{opener.value}' is never closed", span=_span(opener),
            hint=f"add a matching '{_SYMBOL[_OPENERS[opener.type]]}'")
    if not meaningful:
        raise SyntaxProblem("the expression is empty", span=Span(0, 0),
                            hint='write an expression, e.g. "x^2 + 1"')


def _check_slip(previous: Token, token: Token) -> None:
    """Notation that parses but almost never means what it says."""
    if token.type == "BANG" and previous.type == "BANG":
        raise SyntaxProblem(
            "'!!' (the double factorial) is not supported",
            span=Span(previous.start_pos, token.end_pos),
            hint="write it out, e.g. 7*5*3*1 for 7!!, or (x!)! for the factorial of x!")
    if (token.type == "NAME" and token.value == "e" and previous.type == "NUMBER"
            and previous.end_pos == token.start_pos):
        number = previous.value
        raise SyntaxProblem(
            f"'{number}e' is a number with its exponent missing",
            span=Span(previous.start_pos, token.end_pos),
            hint=f"write {number}e3 for {number}×10³, or {number}*e for {number} times e")


def _span(token: Token) -> Span:
    return Span(token.start_pos, max(token.end_pos, token.start_pos + 1))


class Parser:
    """The LALR(1) automaton of the grammar, ready to run."""

    def __init__(self, tables: dict[str, Any]):
        # every terminal, tried in order, then any one character: scanning never skips
        # text, and the catch-all marks where no terminal matches
        self.scan = re.compile("|".join([*(f"(?P<{name}>{regex})"
                                           for name, regex in tables["terminals"]),
                                         r"(?P<_UNLEXABLE>[\s\S])"])).finditer
        self.ignore = frozenset(tables["ignore"])
        self.states: dict[int, dict[str, tuple[int, int]]] = tables["states"]
        self.start_state: int = tables["start_state"]
        self.end_state: int = tables["end_state"]
        # per rule: origin, size, callback name (None: inlined), ?-rule, kept children
        # (None when every child is kept as it is)
        self.rules = []
        for origin, size, name, expand1, keep in tables["rules"]:
            plain = keep == tuple((i, False) for i in range(size))
            # a ?rule over one kept child (sum -> product, power -> postfix, ...) passes its
            # child's value through: only the parser state changes
            unit = size == 1 and plain and expand1
            self.rules.append((origin, size, name, expand1, None if plain else keep, unit))
        #: (state below, top state, lookahead) -> the top state after pass-through reductions
        self.units: dict[tuple[int, int, str], int] = {}

    def _after_units(self, below: int, origin: str, kind: str) -> int:
        """The top state after a pass-through reduction to `origin` over `below`, and
        every pass-through reduction the lookahead `kind` sets off after it."""
        while True:
            top = self.states[below][origin][1]
            if kind == "$END" and top == self.end_state:
                return top
            action = self.states[top].get(kind)
            if action is None or action[0] == 0:
                return top
            rule = self.rules[action[1]]
            if not rule[5]:
                return top
            origin = rule[0]

    def lex(self, text: str) -> tuple[list[Token], SyntaxProblem | None]:
        """The terminals of `text`, in order (ignored ones left out), up to the first
        problem, and that problem (None if there is none)."""
        tokens: list[Token] = []
        try:
            self._lex(text, tokens)
        except SyntaxProblem as problem:
            return tokens, problem
        return tokens, None

    def _lex(self, text: str, tokens: list[Token]) -> None:
        ignore = self.ignore
        append = tokens.append
        for m in self.scan(text):
            kind = m.lastgroup
            if kind in ignore:
                continue
            start, stop = m.span()
            if kind == "_UNLEXABLE":
                raise _unexpected_character(text, start)
            value = m.group()
            if kind == "NAME" and not value.isascii():
                _no_superscripts(text, start, stop)
            append(Token(kind, value, start, stop))  # type: ignore[arg-type]

    def parse(self, text: str, callbacks: dict[str, Callable[[list[Any]], Any]]) -> Any:
        states, rules, end_state, units = self.states, self.rules, self.end_state, self.units
        state_stack = [self.start_state]
        values: list[Any] = []
        tokens, problem = post_lex(*self.lex(text))
        if problem is None:
            tokens.append(Token("$END", "", len(text), len(text)))
        for token in tokens:
            kind = token.type
            while True:
                row = states[state_stack[-1]]
                action = row.get(kind)
                if action is None:
                    raise _UnexpectedToken(token, {s for s in row if s.isupper()})
                what, target = action
                if what == 0:  # shift
                    state_stack.append(target)
                    values.append(token)
                    break
                origin, size, name, expand1, keep, unit = rules[target]
                if unit:
                    # a run of pass-through reductions only changes the top state: what it
                    # ends in is looked up, once worked out, by the states around it
                    key = (state_stack[-2], state_stack[-1], kind)
                    top = units.get(key)
                    if top is None:
                        top = units[key] = self._after_units(key[0], origin, kind)
                    state_stack[-1] = top
                    if kind == "$END" and top == end_state:
                        return values[-1]
                    continue
                if size:
                    children = values[-size:]
                    del values[-size:]
                    del state_stack[-size:]
                else:
                    children = []
                if keep is not None:
                    filtered: list[Any] = []
                    for i, spread in keep:
                        if spread and not filtered and type(children[i]) is _Splice:
                            # a repetition's list grows in place: n statements cost n, not n^2
                            filtered = children[i]
                        elif spread:
                            filtered.extend(children[i])
                        else:
                            filtered.append(children[i])
                    children = filtered
                if name is None:
                    value: Any = children if type(children) is _Splice else _Splice(children)
                elif expand1 and len(children) == 1:
                    value = children[0]
                else:
                    value = callbacks[name](children)
                state_stack.append(states[state_stack[-1]][origin][1])
                values.append(value)
                if kind == "$END" and state_stack[-1] == end_state:
                    return values[-1]
        assert problem is not None, "the automaton accepts only at $END"
        raise problem


def _unexpected_character(text: str, pos: int) -> SyntaxProblem:
    c = text[pos]
    if _is_superscript(c):
        return _superscript_error(text, pos)
    if 0xDC80 <= ord(c) <= 0xDCFF:  # read with surrogateescape: a byte that is not UTF-8
        what = f"byte 0x{ord(c) - 0xDC00:02x} (the input is not valid UTF-8)"
    else:
        what = f"character {c!r}"
    return SyntaxProblem(
        f"unexpected {what}", span=Span(pos, pos + 1),
        hint="expressions use numbers, names, + - * / % ^ @ !, ( ), [ ], |x|, commas, ; and #")


def _is_superscript(c: str) -> bool:
    import unicodedata

    return unicodedata.decomposition(c).startswith("<super>")


def _no_superscripts(text: str, start: int, stop: int) -> None:
    """x² lexes as a name, but a superscript is an exponent someone meant to write as ^."""
    for i in range(start, stop):
        if _is_superscript(text[i]):
            raise _superscript_error(text, i)


def _superscript_error(text: str, first: int) -> SyntaxProblem:
    import unicodedata

    end = first
    while end < len(text) and _is_superscript(text[end]):
        end += 1
    power = unicodedata.normalize("NFKC", text[first:end]).replace("\u2212", "-")
    power = power if power.isalnum() else f"({power})"
    base = _base_before(text, first)
    return SyntaxProblem(f"'{text[first:end]}' is a superscript, not a power",
                         span=Span(first, end), hint=f"write {base or 'x'}^{power}")


def _base_before(text: str, pos: int) -> str:
    """The name, number or bracketed call just before `pos` (x, 2, sin(x)), if short."""
    i, depth = pos, 0
    while i > 0 and pos - i < 40:
        c = text[i - 1]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (c.isalnum() or c in "_."):
            break
        i -= 1
    return text[i:pos] if depth == 0 else ""


_lock = _thread.allocate_lock()
_parser: Parser | None = None


def get_parser() -> Parser:
    global _parser
    if _parser is None:
        _parser = Parser(load_tables())
    return _parser


def parse_with(builder: Any, text: str) -> Any:
    """Parse `text`, letting `builder` turn reductions into instructions."""
    with _lock, no_cycle_collection():  # the builder's objects are acyclic: see collector
        parser = get_parser()
        builder.reset(text)
        try:
            return parser.parse(text, builder.callbacks())
        except GradcliError:
            raise
        except _UnexpectedToken as exc:
            raise _syntax_error(exc, text) from None


def _syntax_error(exc: _UnexpectedToken, text: str) -> SyntaxProblem:
    token = exc.token
    if token.type == "$END":
        return _ends_too_early(text)
    previous = _token_before(text, token.start_pos)
    span = _span(token)
    if token.type == "NAME" and previous is not None and previous[1] == "NAME":
        word = text[previous[0].start:previous[0].end]
        return SyntaxProblem(
            f"two names side by side: '{word} {token.value}'",
            span=Span(previous[0].start, span.end),
            hint=f"write {word}*{token.value} for a product (only a number may precede a "
                 "name directly, as in 2x)")
    if token.type == "BAR":
        return SyntaxProblem("this '|' neither opens nor closes an absolute value |x|",
                             span=span, hint="|x| is abs(x); put an operator before it, "
                                             "e.g. a*|x|")
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
    return SyntaxProblem(f"unexpected '{shown}'", span=span, hint=_expected_hint(exc.expected))


def _expected_hint(expected_kinds: set[str]) -> str:
    names = {"NAME": "a name", "NUMBER": "a number", "LPAR": "'('", "RPAR": "')'",
             "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "PLUS": "'+'", "MINUS": "'-'",
             "STAR": "'*'", "SLASH": "'/'", "POW": "'^'", "COLON": "':'", "SEMI": "';'",
             "PERCENT": "'%'", "BANG": "'!'", "BAR": "'|'", "RBAR": "'|'"}
    expected = sorted({names[e] for e in expected_kinds if e in names})
    if not expected:
        return "check the expression around this point"
    return "expected " + ", ".join(expected[:6]) + (" ..." if len(expected) > 6 else "")


def _ends_too_early(text: str) -> SyntaxProblem:
    stripped = text.rstrip()
    # a trailing comment is not where the expression ends
    last_line_start = stripped.rfind("\n") + 1
    hash_at = stripped.find("#", last_line_start)
    if hash_at >= 0:
        stripped = stripped[:hash_at].rstrip()
    end = len(stripped)
    last = stripped[-1:] if stripped else ""
    if last and last in "+-*/%^@,=<>!:" and stripped[-2:] not in ("!!",) and \
            (last != "!" or stripped[-2:] == "!="):
        start = end - 1
        if stripped[-2:] in ("**", "<=", ">=", "==", "!="):
            start = end - 2
        return SyntaxProblem(f"the expression ends with the operator '{stripped[start:end]}'",
                             span=Span(start, end),
                             hint="add what it applies to, or remove it")
    return SyntaxProblem("the expression ends too early",
                         span=Span(max(end - 1, 0), max(end, 1)), hint="finish the expression")


def _token_before(text: str, pos: int) -> tuple[Span, str] | None:
    """The kind of the token just before `pos` (only names and numbers matter here)."""
    i = pos
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    end = i
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_."):
        i -= 1
    if i == end:
        return None
    word = text[i:end]
    kind = "NUMBER" if word[0].isdigit() or word[0] == "." else "NAME"
    return Span(i, end), kind

"""A parsed program and its evaluation on the engine: the one interpreter.

`parse(text)` gives a `Program`; `Program.evaluate(bindings)` runs its
instructions in one loop (no recursion), labelling every graph node with the
user's name for it or the source text it came from, and returns the output
tensor (several outputs are stacked into a vector).

The same loop evaluates a program at many points at once
(`Program.evaluate_batched`, used by batch work and by plot): the values bound
to the point variables carry a leading batch axis, and an op that meets a
batched input runs through its entry's batch rule (`gradcli.engine.batching`).
Values that do not depend on the points stay unbatched and broadcast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradcli.engine.collector import no_cycle_collection
from gradcli.engine.op import OPS
from gradcli.engine.tensor import Tensor, as_tensor
from gradcli.engine.watch import watch_nonfinite
from gradcli.errors import (
    GradcliError,
    IndexingError,
    NameConflictError,
    ResourceLimitError,
    ShapeError,
    Span,
    UnboundVariableError,
)
from gradcli.language.builder import Builder, Instruction, Parsed, suggest
from gradcli.language.parser import parse_with
from gradcli.limits import check_broadcast, max_elements
from gradcli.numbers import fmt_brief
from gradcli.ops import BINDERS, apply_batched, fn
from gradcli.ops._define import as_int
from gradcli.ops.structural import GETITEM, canonical_index

_builder = Builder()


def parse(text: str) -> Program:
    """Parse an expression or program; raises a `GradcliError` with a span on bad input."""
    if not isinstance(text, str):
        raise TypeError("parse() takes the expression as a string")
    parsed: Parsed = parse_with(_builder, text)
    return Program(text, parsed)


class NonFiniteReport:
    """Where a NaN or infinity first appeared, in the user's terms."""

    __slots__ = ("domain", "inputs", "label", "op", "place", "span")

    def __init__(self, label: str, op: str, span: Span, inputs: list[Any],
                 domain: str | None, place: str = "outside"):
        self.label = label
        self.op = op
        self.span = span
        self.inputs = inputs
        self.domain = domain
        #: "outside", "end", "overflow" or "unknown" (see `_place_in_domain`)
        self.place = place

    def message(self, at: str = "") -> str:
        shown = ", ".join(_short(v) for v in self.inputs)
        where = f" at {at}" if at else ""
        noun = "argument" if len(self.inputs) == 1 else "arguments"
        if self.domain and self.place == "end":
            return (f"{self.label}{where}: {noun} {shown} is an end of the domain "
                    f"({self.domain}), where the value is infinite")
        if self.place == "overflow":
            return (f"{self.label}{where}: the value overflows a double (beyond ±1.8e308) "
                    f"at {noun} {shown}")
        if self.domain and self.place == "outside":
            return (f"{self.label}{where}: {noun} {shown} outside the domain "
                    f"({self.domain}) gave a non-finite value")
        return f"{self.label}{where}: gave a non-finite value from {shown}"


def _place_in_domain(op: Any, inputs: list[Any], out: Any) -> str:
    """Where the non-finite values came from, by the op's own domain test (`inside`):
    "outside" the domain, an "end" of it whose value is infinite (erfinv(1)), an
    "overflow" (gamma(172): inside, finite in exact arithmetic, too big for a double),
    or "unknown" (an op that states no test: its domain, if any, is all it can say)."""
    if op is None or op.inside is None:
        return "outside" if op is not None and op.domain else "unknown"
    with np.errstate(all="ignore"):
        arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
        bad = ~np.isfinite(np.asarray(out, dtype=np.float64))
        inside = np.broadcast_to(op.inside(*arrays), bad.shape) if bad.ndim else \
            np.asarray(op.inside(*arrays)).reshape(())
        if (bad & ~inside).any():
            return "outside"
        if op.ends is not None and (bad & np.broadcast_to(op.ends(*arrays), bad.shape)).any():
            return "end"
        if np.isinf(np.asarray(out, dtype=np.float64)[bad]).all():
            return "overflow"
    return "unknown"


def _short(value: Any) -> str:
    """A value inside a warning: the tables' one-line form (never numpy's repr, which
    breaks a matrix across lines and writes 1 as "1.")."""
    return fmt_brief(value, None)


class Evaluation:
    __slots__ = ("nonfinite", "output", "values")

    def __init__(self, output: Tensor, values: list[Tensor],
                 nonfinite: NonFiniteReport | None):
        self.output = output
        self.values = values
        self.nonfinite = nonfinite


class Program:
    def __init__(self, text: str, parsed: Parsed):
        self.text = text
        self.instructions: list[Instruction] = parsed.instructions
        self._outputs = parsed.outputs
        self._free = parsed.free
        self._first_use = parsed.first_use
        self.assigned: dict[str, int] = parsed.assigned

    @property
    def free_variables(self) -> list[str]:
        """Names the program needs values for, in order of first appearance."""
        return list(self._free)

    @property
    def output_count(self) -> int:
        return len(self._outputs)

    def label(self, instruction: Instruction) -> str:
        return instruction.label or source_label(self.text, instruction.span)

    def output_labels(self) -> list[str]:
        return [self.instructions[r.reg].label or source_label(self.text, r.span)
                for r in self._outputs]

    # -- evaluation ----------------------------------------------------------------
    def check_bindings(self, bindings: Mapping[str, Any]) -> None:
        missing = [name for name in self._free if name not in bindings]
        if missing:
            first = self._first_use[missing[0]]
            listed = ", ".join(missing)
            hint = "give a value for each, e.g. " + " ".join(f"{m}=1" for m in missing[:3])
            for name in missing:
                split = _split_into_names(name, [*bindings, *self._free, *self.assigned])
                if split:
                    hint = f"'{name}' is one name; for a product write {'*'.join(split)}"
                    break
            else:
                close = [c for m in missing for c in suggest(m, list(bindings))]
                if close:
                    hint += f" (did you mean {', '.join(close)}?)"
            raise UnboundVariableError(
                f"no value for {'variable' if len(missing) == 1 else 'variables'} {listed}",
                span=first, hint=hint)
        for name in self.assigned:
            if name in bindings:
                reg = self.assigned[name]
                raise NameConflictError(
                    f"'{name}' is assigned in the expression and also given a value",
                    span=self.instructions[reg].span,
                    hint=f"drop the value for {name}, or rename the step")

    def evaluate(self, bindings: Mapping[str, Any] | None = None) -> Tensor:
        """The output as an engine tensor; tensors in `bindings` are used as they are."""
        return self.run(bindings or {}).output

    def run(self, bindings: Mapping[str, Any]) -> Evaluation:
        """Evaluate, keeping every instruction's value and, if the output is not finite,
        where the first non-finite value came from."""
        self.check_bindings(bindings)
        values: list[Tensor] = []
        with np.errstate(all="ignore"):
            output, _ = self._execute(bindings, values)
        report = None
        if output.data.dtype != np.bool_ and not np.isfinite(output.data).all():
            report = self.locate_nonfinite(bindings)
        return Evaluation(output, values, report)

    def locate_nonfinite(self, bindings: Mapping[str, Any]) -> NonFiniteReport | None:
        """Re-run watching every op (the common, finite case never pays for this)."""
        values: list[Tensor] = []
        constants = {k: v.detach() if isinstance(v, Tensor) else v for k, v in bindings.items()}
        with watch_nonfinite() as log, np.errstate(all="ignore"):
            self._execute(constants, values)
        event = log.first
        if event is None:
            return None
        return self._locate(event.result, event.op, event.inputs, values)

    def evaluate_batched(self, points: Mapping[str, Tensor], constants: Mapping[str, Any],
                         size: int) -> Tensor:
        """The output at every point: shape (size, *output shape).

        `points` hold one row per point (batch axis first); `constants` are the
        same at every point."""
        self.check_bindings({**constants, **points})
        out, batched = self._execute({**constants, **points}, [], frozenset(points))
        if not batched:
            # the same at every point: repeat it, so there is one result per point
            return fn.broadcast_to(out, (size, *out.shape))
        return out

    def _execute(self, bindings: Mapping[str, Any], values: list[Tensor],
                 batched: frozenset[str] = frozenset()) -> tuple[Tensor, bool]:
        """Run every instruction once, in order. With `batched`, the variables named
        there carry a leading batch axis, and `flags[k]` says whether value k does.
        Returns the output and whether it carries the batch axis.

        The element budget is read once here, not by each op; the collector is kept
        out of the loop (`no_cycle_collection`), which makes acyclic graph objects only."""
        with no_cycle_collection():
            return self._execute_all(bindings, values, batched, max_elements())

    def _execute_all(self, bindings: Mapping[str, Any], values: list[Tensor],
                     batched: frozenset[str], budget: int) -> tuple[Tensor, bool]:
        text = self.text
        flags: list[bool] | None = [] if batched else None
        for instruction in self.instructions:
            kind = instruction.kind
            flag = False
            if kind == "const":
                value = Tensor._wrap(instruction.value)
            elif kind == "var":
                value = as_tensor(bindings[instruction.value])
                if flags is not None:
                    flag = instruction.value in batched
                if value.label is None and value.is_leaf:
                    value.label = instruction.value
            elif kind == "alias":  # a list literal a call took apart (builder._list_argument)
                value = values[instruction.args[0]]
                if flags is not None:
                    flag = flags[instruction.args[0]]
            elif flags is not None and any(flags[r] for r in instruction.args):
                value = self._apply_batched(instruction, values, flags, budget)
                flag = True
            elif kind == "op":
                if flags is not None and any(flags[r] for _, r in instruction.keywords):
                    self._refuse_batched_settings(instruction)
                value = self._apply(instruction, values, budget)
            else:
                value = self._index(instruction, values, flags)
            node = value.grad_fn
            if node is not None and node.label is None and kind != "var":
                node.label = instruction.label or source_label(text, instruction.span)
            values.append(value)
            if flags is not None:
                flags.append(flag)
        regs = [r.reg for r in self._outputs]
        outputs = [values[r] for r in regs]
        out_batched = flags is not None and any(flags[r] for r in regs)
        if len(outputs) == 1:
            return outputs[0], out_batched
        try:
            if out_batched and flags is not None:
                stacked = apply_batched(OPS["stack"], tuple(outputs),
                                        tuple(flags[r] for r in regs), {"axis": 0})
            else:
                stacked = fn.stack(outputs)
        except GradcliError as exc:
            exc.span = exc.span or Span(self._outputs[0].span.start, self._outputs[-1].span.end)
            exc.hint = exc.hint or "several results must all have the same shape"
            raise
        if stacked.grad_fn is not None:
            stacked.grad_fn.label = "[" + ", ".join(self.output_labels()) + "]"
        return stacked, out_batched

    def _apply(self, instruction: Instruction, values: list[Tensor], budget: int) -> Tensor:
        op = OPS[instruction.op or ""]
        function = getattr(fn, op.name)
        tensors = [values[r] for r in instruction.args]
        keywords = {name: values[r] for name, r in instruction.keywords}
        try:
            if op.broadcasting:
                check_broadcast([t.shape for t in tensors], budget=budget)
            if op.nin < 0:
                return function(tensors, **keywords)
            return function(*tensors, **keywords)
        except GradcliError as exc:
            _place(exc, instruction, op, self.text)
            raise

    def _refuse_batched_settings(self, instruction: Instruction) -> None:
        raise ShapeError(f"{instruction.op}: its settings (axis, ord, ...) must be the same "
                         "at every point, not come from the point file",
                         span=instruction.op_span or instruction.span)

    def _apply_batched(self, instruction: Instruction, values: list[Tensor],
                       flags: list[bool], budget: int) -> Tensor:
        if instruction.kind != "op":
            return self._index(instruction, values, flags)
        op = OPS[instruction.op or ""]
        if any(flags[r] for _, r in instruction.keywords):
            self._refuse_batched_settings(instruction)
        tensors = [values[r] for r in instruction.args]
        keywords = {name: values[r] for name, r in instruction.keywords}
        try:
            if op.broadcasting:  # the budget is per point, as the expression is written
                check_broadcast([t.shape[1:] if flags[r] else t.shape
                                 for t, r in zip(tensors, instruction.args, strict=True)],
                                budget=budget)
            inputs, params = BINDERS[op.name]([tensors] if op.nin < 0 else tensors, keywords)
            return apply_batched(op, inputs, tuple(flags[r] for r in instruction.args), params)
        except GradcliError as exc:
            # the batched shapes, such as (3, 1, 5), are ours, not the user's: the same op
            # at the first point says what went wrong in the user's shapes
            error = self._at_first_point(instruction, tensors, keywords, flags) or exc
            _place(error, instruction, op, self.text)
            if error is exc:
                raise
            raise error from None

    def _at_first_point(self, instruction: Instruction, tensors: list[Tensor],
                        keywords: dict[str, Tensor], flags: list[bool]) -> GradcliError | None:
        """The error the op raises at the first point alone, if it raises one there."""
        point = []
        for t, r in zip(tensors, instruction.args, strict=True):
            if flags[r] and not t.shape[0]:
                return None
            point.append(Tensor._wrap(t.data[0]) if flags[r] else t.detach())
        function = getattr(fn, instruction.op or "")
        try:
            with np.errstate(all="ignore"):
                function(point, **keywords) if OPS[instruction.op or ""].nin < 0 else \
                    function(*point, **keywords)
        except GradcliError as error:
            return error
        return None

    def _index(self, instruction: Instruction, values: list[Tensor],
               flags: list[bool] | None = None) -> Tensor:
        """Indexing is the getitem op; its index is the same at every point."""
        base = values[instruction.args[0]]
        items: list[Any] = []
        try:
            for item in instruction.value:
                registers = [item[1]] if item[0] == "reg" else [r for r in item[1:]
                                                                 if r is not None]
                if flags is not None and any(flags[r] for r in registers):
                    what = "an index" if item[0] == "reg" else "a slice bound"
                    raise ShapeError(f"{what} must be the same at every point, not come from "
                                     "the point file")
                if item[0] == "reg":
                    items.append(_index_value(values[item[1]]))
                else:
                    items.append(slice(*(None if r is None else as_int(values[r], "a slice bound")
                                         for r in item[1:])))
            if flags is not None and flags[instruction.args[0]]:
                return apply_batched(GETITEM, (base,), (True,),
                                     {"index": canonical_index(tuple(items))})
            return base[tuple(items)]
        except GradcliError as exc:
            if exc.message.startswith(f"{GETITEM.name}:"):  # indexing is not called by name
                exc.message = "indexing" + exc.message[len(GETITEM.name):]
                exc.args = (exc.message,)
            if exc.span is None:
                exc.span = instruction.op_span
            if exc.hint is None:
                shape = base.shape[1:] if flags is not None and flags[instruction.args[0]] \
                    else base.shape
                exc.hint = (f"the value has shape {shape}; indices start at 0 and -1 is "
                            "the last")
            raise

    def _locate(self, result: Any, op_name: str, inputs: tuple[np.ndarray, ...],
                values: list[Tensor]) -> NonFiniteReport | None:
        for instruction, value in zip(self.instructions, values, strict=False):
            if value is result:
                op = OPS.get(op_name)
                shown = [a for a in inputs]
                if op is not None and op.nin >= 0 and op.nin < len(shown):
                    shown = shown[:op.nin]
                return NonFiniteReport(self.label(instruction), op_name, instruction.span,
                                       shown, op.domain if op else None,
                                       _place_in_domain(op, shown, getattr(result, "data",
                                                                           result)))
        return None


#: labels are for display; a long sub-expression keeps its head and tail, so that
#: labelling every level of a 100,000-deep expression stays linear in memory
LABEL_MAX = 60


def source_label(text: str, span: Span) -> str:
    if span.end - span.start <= LABEL_MAX:
        return text[span.start:span.end]
    half = (LABEL_MAX - 1) // 2
    return text[span.start:span.start + half] + "…" + text[span.end - half:span.end]


def _place(exc: GradcliError, instruction: Instruction, op: Any, text: str) -> None:
    """Point an op's error at the call in the source, in the words the user wrote.

    An op's own messages start with its name ("stack: ..."); where the user wrote
    something else (a list [a, b], an operator such as +), that is named instead,
    and the usage hint is only given for a call by name."""
    if isinstance(exc, ResourceLimitError) and exc.span is None:
        exc.about(source_label(text, instruction.span))
    written, by_name = _written_as(instruction, text)
    if written != op.name and exc.message.startswith(f"{op.name}:"):
        exc.message = written + exc.message[len(op.name):]
        exc.args = (exc.message,)
    if exc.span is None:
        exc.span = instruction.op_span or instruction.span
    if exc.hint is None and op.signature and by_name:
        exc.hint = f"usage: {op.signature}"


_CALL = re.compile(r"[^\W\d]\w*\s*\(")


def _written_as(instruction: Instruction, text: str) -> tuple[str, bool]:
    """How the user wrote an op, and whether as a call by name."""
    span, op_span = instruction.span, instruction.op_span
    source = text[span.start:span.end]
    if source.startswith("[") and op_span in (None, span):  # not [1,2] + v: that is '+'
        return f"the list {source_label(text, span)}", False
    if _CALL.match(source):
        return source[:source.index("(")].strip(), True
    if op_span is not None and op_span != span and op_span.end > op_span.start:
        return f"'{text[op_span.start:op_span.end]}'", False
    return source_label(text, span), False


def _index_value(t: Tensor) -> Any:
    if t.ndim == 0:
        return as_int(t, "an index")
    data = t.data
    if data.dtype == np.bool_:
        return data
    if not np.all(np.mod(data, 1) == 0):
        raise IndexingError("indices must be whole numbers")
    return data.astype(np.intp)


def _split_into_names(word: str, names: list[str]) -> list[str] | None:
    """'xy' -> ['x', 'y'] when the word is a run of known names side by side."""
    known = sorted({n for n in names if n and n != word}, key=len, reverse=True)
    if not known:
        return None
    pieces: list[str] = []
    i = 0
    while i < len(word):
        for name in known:
            if word.startswith(name, i):
                pieces.append(name)
                i += len(name)
                break
        else:
            return None
    return pieces if len(pieces) > 1 else None

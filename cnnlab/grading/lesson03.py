"""Lesson 03 "Computation graphs": a scalar ``Value`` class, topological order, backward.

The lesson's ``Value`` class has the attributes ``data`` (a float), ``grad`` (a float, 0.0 at
first), ``inputs`` (the nodes it was computed from), ``op`` (a string) and ``_backward`` (a
closure, called with no arguments, that adds ``out.grad`` times the local derivatives into the
inputs' ``grad``). The checks build graphs from small expressions:

* ``graph_ops``: ``cl.check("graph_ops", Value)`` builds each expression with the student's
  class, runs the closures in reverse topological order and compares the leaves' gradients
  with central differences of the expression.
* ``topological_order(root) -> list``: every node once, each after all its inputs.
* ``backward(root)``: fills ``.grad`` of every node (graphs built with a correct class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..autograd import topological_order
from .core import Case, CheckFailure, Exercise, Mistake, exercise, register

# --- a reference Value class, and wrong variants of it ------------------------------------------

# The local derivatives of each op: a function of the inputs' data and the output's data that
# returns one partial derivative per input.
_RULES = {
    "+": lambda a, b, out: (1.0, 1.0),
    "*": lambda a, b, out: (b, a),
    "exp": lambda a, out: (out,),
    "log": lambda a, out: (1.0 / a,),
    "relu": lambda a, out: (1.0 if a > 0 else 0.0,),
}


class _Value:
    """A correct scalar node. Subclasses (the mistake models) change ``rules`` (local
    derivatives), ``assign`` (ops whose closure uses ``=`` instead of ``+=``) or ``no_upstream``
    (ops whose closure forgets to multiply by ``out.grad``)."""

    rules = _RULES
    assign: frozenset = frozenset()
    no_upstream: frozenset = frozenset()

    def __init__(self, data, inputs=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.inputs = tuple(inputs)
        self.op = op
        self._backward = lambda: None

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def _lift(self, other):
        return other if isinstance(other, _Value) else type(self)(other)

    def _node(self, data, inputs, op):
        out = type(self)(data, inputs, op)
        cls = type(self)

        def _backward():
            partials = cls.rules[op](*(node.data for node in inputs), out.data)
            for node, local in zip(inputs, partials):
                contribution = local if op in cls.no_upstream else local * out.grad
                if op in cls.assign:
                    node.grad = contribution
                else:
                    node.grad += contribution
        out._backward = _backward
        return out

    def __add__(self, other):
        other = self._lift(other)
        return self._node(self.data + other.data, (self, other), "+")

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = self._lift(other)
        return self._node(self.data * other.data, (self, other), "*")

    def __rmul__(self, other):
        return self * other

    def exp(self):
        return self._node(math.exp(self.data), (self,), "exp")

    def log(self):
        return self._node(math.log(self.data), (self,), "log")

    def relu(self):
        return self._node(max(self.data, 0.0), (self,), "relu")


def _variant(name, assign=(), no_upstream=(), **rules):
    """A subclass of :class:`_Value` with one mistake built in (named for messages)."""
    changed = dict(_RULES)
    changed.update({{"add": "+", "mul": "*"}.get(k, k): v for k, v in rules.items()})
    return type(name, (_Value,), {"rules": changed, "assign": frozenset(assign),
                                  "no_upstream": frozenset(no_upstream)})


# --- graph bookkeeping used by the checks ----------------------------------------------------------

def _backward(root) -> None:
    """The reference backward pass: seed 1, closures in reverse topological order."""
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        node._backward()


# Small expressions over leaves a, b, c. A name that is a lambda's argument is a leaf; the
# graphs reuse leaves (fan-out) and intermediate nodes (c below) on purpose.
def _shared(a, b):
    c = a * b
    return (c + c.exp()) * c


def _wide(a, b):
    c = a + b
    return (c * c) * (c + c.relu().log())


def _long_chain(a, b):
    x = a
    for _ in range(40):
        x = x * 0.9 + b
    return x.relu()


def _mixed(a, b, c):
    d = a * b + c
    return d.relu() * a + (d * d + c).log()


_EXPRESSIONS = {
    "a": lambda a: a,
    "a * b": lambda a, b: a * b,
    "a + b": lambda a, b: a + b,
    "a * a": lambda a: a * a,
    "a + a": lambda a: a + a,
    "a.exp()": lambda a: a.exp(),
    "a.log()": lambda a: a.log(),
    "a.relu()": lambda a: a.relu(),
    "a.exp() + a": lambda a: a.exp() + a,
    "a.log() + a": lambda a: a.log() + a,
    "a.relu() + a": lambda a: a.relu() + a,
    "a * b + a": lambda a, b: a * b + a,
    "(a * b + a).exp()": lambda a, b: (a * b + a).exp(),
    "2 * a + 1": lambda a: 2 * a + 1,
    "(a * a + b).log()": lambda a, b: (a * a + b).log(),
    "(c + c.exp()) * c": _shared,
    "wide fan-out": _wide,
    "a long chain": _long_chain,
    "relu, log, reuse": _mixed,
}


def _from_ops(ops, leaves: dict):
    """The root of a graph written as an op list (how the grader's hidden cases describe new
    graphs): each op is ``("leaf", name)``, ``("+", p, q)``, ``("*", p, q)``, ``("exp", p)``,
    ``("log", p)`` or ``("relu", p)``, where an operand is the index of an earlier op or a
    number (a constant); the last op is the root."""
    nodes = []

    def arg(ref):
        return nodes[ref] if isinstance(ref, int) and not isinstance(ref, bool) else float(ref)

    for op in ops:
        kind, *refs = op
        if kind == "leaf":
            nodes.append(leaves[refs[0]])
        elif kind == "+":
            nodes.append(arg(refs[0]) + arg(refs[1]))
        elif kind == "*":
            nodes.append(arg(refs[0]) * arg(refs[1]))
        else:
            nodes.append(getattr(arg(refs[0]), kind)())
    return nodes[-1]


def _build(expr, Value, values: dict):
    """``(root, leaves)``: the expression (a name of :data:`_EXPRESSIONS` or an op list) built
    with the class ``Value`` from leaves holding ``values``."""
    leaves = {k: Value(v) for k, v in values.items()}
    if isinstance(expr, str):
        return _EXPRESSIONS[expr](**leaves), leaves
    return _from_ops(expr, leaves), leaves


def _evaluate(expr, values) -> float:
    return _build(expr, _Value, values)[0].data


def _numerical(expr, values, h=1e-6) -> dict:
    """The expression's value and central differences with respect to every leaf."""
    result = {"value": _evaluate(expr, values)}
    for name in values:
        plus, minus = dict(values), dict(values)
        plus[name] += h
        minus[name] -= h
        result[f"d/d{name}"] = (_evaluate(expr, plus) - _evaluate(expr, minus)) / (2 * h)
    return result


# --- graph_ops ---------------------------------------------------------------------------------------

def _call_graph(Value, inputs):
    """Build the case's expression with the student's class, back-propagate in reverse
    topological order, and return the root's value and the leaves' gradients."""
    if not callable(Value):
        raise CheckFailure(f"pass the class itself, cl.check('graph_ops', Value); got {type(Value).__name__}")
    values = {k: v for k, v in inputs.items() if k != "expr"}
    root, leaves = _build(inputs["expr"], Value, values)
    _backward(root)
    return {"value": root.data, **{f"d/d{k}": leaf.grad for k, leaf in leaves.items()}}


def _graph_case(note, expr, **values):
    label = f"{expr} at " + ", ".join(f"{k} = {v:g}" for k, v in values.items()) + (f"; {note}" if note else "")
    return Case(note, expr=expr, **values, label=label, expected=_numerical(expr, values))


register(Exercise(
    "graph_ops", points=3, implemented_by=("cnnlab.autograd.Tensor",), call=_call_graph, reference=None,
    cases=[
        _graph_case("", "a * b", a=2.0, b=-3.0),
        _graph_case("", "a + b", a=1.5, b=4.0),
        _graph_case("", "a.exp()", a=0.7),
        _graph_case("", "a.log()", a=2.5),
        _graph_case("the positive side", "a.relu()", a=1.3),
        _graph_case("the negative side: no gradient", "a.relu()", a=-0.8),
        _graph_case("a node used twice", "a * a", a=3.0),
        _graph_case("a node used twice", "a + a", a=-1.0),
        _graph_case("a used by exp and by +", "a.exp() + a", a=0.5),
        _graph_case("a used by log and by +", "a.log() + a", a=2.0),
        _graph_case("a used by relu and by +", "a.relu() + a", a=0.6),
        _graph_case("a used twice", "a * b + a", a=2.0, b=-3.0),
        _graph_case("", "(a * b + a).exp()", a=0.5, b=-1.5),
        _graph_case("numbers become constant nodes", "2 * a + 1", a=0.25),
        _graph_case("", "(a * a + b).log()", a=1.5, b=0.5),
        _graph_case("c = a * b is used three times", "(c + c.exp()) * c", a=0.8, b=-0.6),
        _graph_case("c = a + b is used four times", "wide fan-out", a=0.7, b=0.9),
        _graph_case("", "relu, log, reuse", a=1.2, b=0.5, c=0.3),
    ],
    mistakes=[
        Mistake("`=` instead of `+=` (reused node) in __add__: a node used twice must receive both "
                "contributions, so accumulate: self.grad += out.grad", _variant("Value", assign={"+"})),
        Mistake("`=` instead of `+=` (reused node) in __mul__: accumulate, self.grad += other.data * "
                "out.grad, so that a node used twice keeps both contributions", _variant("Value", assign={"*"})),
        Mistake("`=` instead of `+=` (reused node) in exp: accumulate with +=, because the input may "
                "also receive gradient from another use", _variant("Value", assign={"exp"})),
        Mistake("`=` instead of `+=` (reused node) in log: accumulate with +=", _variant("Value", assign={"log"})),
        Mistake("`=` instead of `+=` (reused node) in relu: accumulate with +=", _variant("Value", assign={"relu"})),
        Mistake("wrong local derivative in __mul__: d(a b)/da = b, so self.grad += other.data * out.grad "
                "(the other factor, not the node's own value)", _variant("Value", mul=lambda a, b, out: (a, b))),
        Mistake("wrong local derivative in __add__: both inputs of a sum receive out.grad (one of "
                "them got nothing)",
                _variant("Value", add=lambda a, b, out: (1.0, 0.0))),
        Mistake("wrong local derivative in exp: d(e^x)/dx = e^x, which is out.data, not x",
                _variant("Value", exp=lambda a, out: (a,))),
        Mistake("exp's closure must multiply the local derivative out.data by the upstream gradient "
                "out.grad (the chain rule)", _variant("Value", no_upstream={"exp"})),
        Mistake("wrong local derivative in log: d(log x)/dx = 1/x, so divide by x",
                _variant("Value", log=lambda a, out: (a,))),
        Mistake("wrong local derivative in log: d(log x)/dx = 1/x; divide by the input x, not by the "
                "output log x", _variant("Value", log=lambda a, out: (1.0 / out,))),
        Mistake("wrong local derivative in relu: the gradient passes only where the input is positive "
                "(local derivative 1 for x > 0, 0 otherwise)", _variant("Value", relu=lambda a, out: (1.0,))),
        Mistake("wrong local derivative in relu: it is 1 where x > 0 and 0 elsewhere, not the output "
                "value", _variant("Value", relu=lambda a, out: (out,))),
        Mistake("relu's closure must multiply the 0/1 local derivative by the upstream gradient out.grad",
                _variant("Value", no_upstream={"relu"})),
    ],
), replace=True)  # replace: a reload of this module re-registers it


# --- topological_order -------------------------------------------------------------------------------

def _labelled_graph(inputs):
    """Build the case's expression with the reference class and label every node: leaves by
    their names, constants ``k1 = 0.9``, computed nodes ``t1 = a * b``, ``t2 = exp(t1)``, ...
    numbered in topological order."""
    values = {k: v for k, v in inputs.items() if k != "expr"}
    root, leaves = _build(inputs["expr"], _Value, values)
    names = {id(leaf): k for k, leaf in leaves.items()}
    short, labels, count, constants = {}, {}, 0, 0
    for node in topological_order(root):
        if id(node) in names:
            short[id(node)] = labels[id(node)] = names[id(node)]
        elif not node.inputs:  # a constant; several may hold the same number
            constants += 1
            short[id(node)] = labels[id(node)] = f"k{constants} = {node.data:g}"
        else:
            count += 1
            short[id(node)] = f"t{count}"
            args = [short[id(i)] for i in node.inputs]
            body = f"{node.op}({args[0]})" if len(args) == 1 else f" {node.op} ".join(args)
            labels[id(node)] = f"t{count} = {body}"
    return root, labels


@dataclass
class _Order:
    """What a student's topological_order returned, as node labels, with the graph's edges."""

    labels: list          # one per returned entry; None for something that is not a node
    nodes: list           # every node's label (in the reference order)
    inputs: dict          # label -> labels of its inputs
    root: str

    def problems(self) -> list[str]:
        found = []
        if None in self.labels:
            found.append("the list holds something that is not a node of the graph")
        counts = {}
        for label in self.labels:
            if label is not None:
                counts[label] = counts.get(label, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            found.append(f"node {repeated[0]!r} appears {counts[repeated[0]]} times; each node must appear once")
        missing = [k for k in self.nodes if k not in counts]
        if missing:
            found.append(f"{len(missing)} of {len(self.nodes)} nodes are missing, e.g. {missing[0]!r}")
        if not found:
            position = {label: i for i, label in enumerate(self.labels)}
            for label in self.labels:
                late = [i for i in self.inputs[label] if position[i] > position[label]]
                if late:
                    found.append(f"{label!r} comes before its input {late[0]!r}; each node must come "
                                 "after all of its inputs")
                    break
        return found

    def is_reversed_order(self) -> bool:
        """True when the list is a valid order read backwards (root first, leaves last)."""
        flipped = _Order(self.labels[::-1], self.nodes, self.inputs, self.root)
        return len(self.labels) > 1 and not flipped.problems()


def _call_order(fn, inputs):
    """The student's order, as the labels of the nodes it lists (None for anything that is
    not a node of the graph): plain data, judged on the grader's side by :func:`_as_order`."""
    root, labels = _labelled_graph(inputs)
    got = fn(root)
    if not isinstance(got, (list, tuple)):
        raise CheckFailure(f"topological_order must return a list of nodes; got {type(got).__name__}"
                           + (": did you forget `return`?" if got is None else ""))
    return [labels.get(id(node)) for node in got]


def _as_order(inputs, labels) -> _Order:
    """The graph's facts beside the labels a topological order returned."""
    if not (isinstance(labels, list) and all(x is None or isinstance(x, str) for x in labels)):
        raise CheckFailure("the result could not be read as a list of nodes")
    root, names = _labelled_graph(inputs)
    nodes = topological_order(root)
    return _Order(labels=labels, nodes=[names[id(n)] for n in nodes],
                  inputs={names[id(n)]: [names[id(i)] for i in n.inputs] for n in nodes},
                  root=names[id(root)])


def _compare_order(expected, got, inputs):
    problems = got.problems()
    return "; ".join(problems) if problems else None


def _duplicates(inputs, got, expected):
    if isinstance(got, _Order) and len(set(got.labels)) < len(got.labels):
        return ("duplicates: a node reached along two paths was listed twice; remember the visited "
                "nodes in a set and skip a node already seen")
    return None


def _reversed(inputs, got, expected):
    if isinstance(got, _Order) and got.is_reversed_order():
        return ("reversed order: each node must come after all of its inputs (leaves first, the root "
                "last); append a node after visiting its inputs, not before")
    return None


def _root_missing(inputs, got, expected):
    if isinstance(got, _Order) and got.root not in got.labels:
        return "the root itself belongs in the list too, as its last entry"
    return None


def _leaves_missing(inputs, got, expected):
    if isinstance(got, _Order):
        leaves = [k for k in got.nodes if not got.inputs[k]]
        if got.root in got.labels and any(k not in got.labels for k in leaves):
            return "the leaves (nodes without inputs, such as a and b) are nodes of the graph too"
    return None


def _order_case(note, expr, **values):
    label = f"{expr} at " + ", ".join(f"{k} = {v:g}" for k, v in values.items()) + (f"; {note}" if note else "")
    return Case(note, expr=expr, **values, label=label)


_GRAPHS = [
    ("a single node: the root is a leaf", "a", {"a": 2.0}),
    ("", "a * b", {"a": 2.0, "b": -3.0}),
    ("", "a.exp()", {"a": 0.7}),
    ("a used twice", "a * b + a", {"a": 2.0, "b": -3.0}),
    ("", "(a * b + a).exp()", {"a": 0.5, "b": -1.5}),
    ("c = a * b is used three times", "(c + c.exp()) * c", {"a": 0.8, "b": -0.6}),
    ("c = a + b is used four times", "wide fan-out", {"a": 0.7, "b": 0.9}),
    ("40 steps of x = 0.9 x + b", "a long chain", {"a": 1.0, "b": 0.5}),
    ("", "relu, log, reuse", {"a": 1.2, "b": 0.5, "c": 0.3}),
]


@exercise(
    "topological_order", points=2,
        implemented_by=("cnnlab.autograd.topological_order",),
        call=_call_order, summarize=_as_order, compare=_compare_order,
    cases=[_order_case(note, expr, **values) for note, expr, values in _GRAPHS],
    detectors=[_duplicates, _reversed, _root_missing, _leaves_missing],
)
def _topological_order(root):
    return topological_order(root)


# --- backward ----------------------------------------------------------------------------------------

def _call_backward(fn, inputs):
    """Run the student's backward on a graph of correct nodes; return every node's gradient."""
    root, labels = _labelled_graph(inputs)
    fn(root)
    return {labels[id(node)]: node.grad for node in topological_order(root)}


def _backward_recursive(root):
    root.grad = 1.0

    def visit(node):
        node._backward()
        for child in node.inputs:
            visit(child)
    visit(root)


def _backward_not_seeded(root):
    for node in reversed(topological_order(root)):
        node._backward()


def _backward_forward_order(root):
    root.grad = 1.0
    for node in topological_order(root):
        node._backward()


def _backward_seeded_with_value(root):
    root.grad = root.data
    for node in reversed(topological_order(root)):
        node._backward()


def _backward_root_only(root):
    root.grad = 1.0
    root._backward()


@exercise(
    "backward", points=2, implemented_by=("cnnlab.autograd.Tensor.backward",), call=_call_backward,
    cases=[_order_case(note, expr, **values) for note, expr, values in _GRAPHS],
    mistakes=[
        Mistake("recursion that double-counts shared nodes: a node reached along two paths runs its "
                "closure twice, passing on its gradient again; run each closure once, in reverse "
                "topological order", _backward_recursive),
        Mistake("grads not seeded with 1: d(root)/d(root) = 1, so set root.grad = 1.0 before running "
                "the closures (otherwise every gradient stays 0)", _backward_not_seeded),
        Mistake("the closures must run in reverse topological order (root first): a node may pass its "
                "gradient on only after all of its users have added theirs", _backward_forward_order),
        Mistake("every node's closure must run, not only the root's: walk the whole topological order, "
                "reversed", _backward_root_only),
        Mistake("the seed is d(root)/d(root) = 1: set root.grad = 1.0, not the root's value",
                _backward_seeded_with_value),
    ],
)
def _backward_reference(root):
    _backward(root)

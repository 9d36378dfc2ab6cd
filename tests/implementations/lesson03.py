"""Lesson 03: right and wrong answers to graph_ops (the Value class's backward closures),
topological_order and backward, written as students write them."""

import math

from . import Right, Wrong

# --- graph_ops: a class as the lesson gives it, with the closures completed ------------------


class Value:
    """Closures in micrograd's style, one per op. New nodes are made with type(self), so a
    subclass below (one wrong op) builds its whole graph from its own class."""

    def __init__(self, data, inputs=(), op="", label=""):
        self.data = float(data)
        self.grad = 0.0
        self.inputs = tuple(inputs)
        self.op = op
        self.label = label
        self._backward = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other):
        return self * other

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = type(self)(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def relu(self):
        out = type(self)(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad
        out._backward = _backward
        return out


class ValueOtherForms(Value):
    """Right too: the same derivatives written differently (math.exp again, a branch in relu,
    the chain rule as a local derivative times the upstream gradient)."""

    def _wrap(self, out, *pairs):
        def _backward():
            for node, local in pairs:
                node.grad = node.grad + local() * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else ValueOtherForms(other)
        out = ValueOtherForms(self.data + other.data, (self, other), "+")
        return self._wrap(out, (self, lambda: 1.0), (other, lambda: 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else ValueOtherForms(other)
        out = ValueOtherForms(self.data * other.data, (self, other), "*")
        return self._wrap(out, (self, lambda: other.data), (other, lambda: self.data))

    def exp(self):
        out = ValueOtherForms(math.exp(self.data), (self,), "exp")
        return self._wrap(out, (self, lambda: math.exp(self.data)))

    def log(self):
        out = ValueOtherForms(math.log(self.data), (self,), "log")
        return self._wrap(out, (self, lambda: 1.0 / self.data))

    def relu(self):
        out = ValueOtherForms(max(self.data, 0.0), (self,), "relu")
        return self._wrap(out, (self, lambda: 1.0 if self.data > 0 else 0.0))


# The harness compares right implementations by their functions' bytecode, which a class does
# not have; these factories make each class a function (the check accepts any callable that
# builds nodes) and differ in their bytecode.
def value_closures(data):
    return Value(data)


def value_other_forms(data):
    node = ValueOtherForms(float(data))
    return node


# --- graph_ops: wrong (each overrides one op of the right class) ------------------------------


class AddAssigns(Value):
    def __add__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad
            other.grad = out.grad
        out._backward = _backward
        return out


class MulOwnValue(Value):
    def __mul__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += self.data * out.grad
            other.grad += other.data * out.grad
        out._backward = _backward
        return out


# --- topological_order: right ---------------------------------------------------------------


def order_recursive(root):
    order, visited = [], set()

    def visit(node):
        if node in visited:
            return
        visited.add(node)
        for child in node.inputs:
            visit(child)
        order.append(node)
    visit(root)
    return order


def order_kahn(root):
    # Count each node's users, then emit from the root down and reverse.
    nodes, stack, users = [], [root], {}
    seen = {id(root)}
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in node.inputs:
            users[id(child)] = users.get(id(child), 0) + 1
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    ready, out = [root], []
    while ready:
        node = ready.pop()
        out.append(node)
        for child in node.inputs:
            users[id(child)] -= 1
            if users[id(child)] == 0:
                ready.append(child)
    return out[::-1]


def order_iterative(root):
    order, done, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in node.inputs if id(child) not in done)
    return order


# --- topological_order: wrong ---------------------------------------------------------------


def order_no_visited_set(root):
    order = []

    def visit(node):
        for child in node.inputs:
            visit(child)
        order.append(node)
    visit(root)
    return order


def order_preorder(root):
    order, visited = [], set()

    def visit(node):
        if id(node) in visited:
            return
        visited.add(id(node))
        order.append(node)  # before its inputs
        for child in node.inputs:
            visit(child)
    visit(root)
    return order


def order_without_root(root):
    order, visited = [], set()

    def visit(node):
        for child in node.inputs:
            if id(child) not in visited:
                visited.add(id(child))
                visit(child)
                order.append(child)
    visit(root)
    return order


def order_forgot_return(root):
    order_recursive(root)


# --- backward: right --------------------------------------------------------------------------


def backward_reversed_order(root):
    root.grad = 1.0
    for node in reversed(order_recursive(root)):
        node._backward()


def backward_with_kahn(root):
    order = order_kahn(root)
    order[-1].grad = 1
    for node in order[::-1]:
        node._backward()


# --- backward: wrong --------------------------------------------------------------------------


def backward_recursive(root):
    root.grad = 1.0

    def go(node):
        node._backward()
        for child in node.inputs:
            go(child)
    go(root)


def backward_not_seeded(root):
    for node in reversed(order_recursive(root)):
        node._backward()


RIGHT = [
    Right("graph_ops", value_closures),
    Right("graph_ops", value_other_forms),
    Right("topological_order", order_recursive),
    Right("topological_order", order_kahn),
    Right("topological_order", order_iterative),
    Right("backward", backward_reversed_order),
    Right("backward", backward_with_kahn),
]

WRONG = [
    Wrong("graph_ops", AddAssigns, hint="`=` instead of `+=` (reused node) in __add__"),
    Wrong("graph_ops", MulOwnValue, hint="wrong local derivative in __mul__"),
    Wrong("topological_order", order_no_visited_set, hint="duplicates"),
    Wrong("topological_order", order_preorder, hint="reversed order"),
    Wrong("topological_order", order_without_root, hint="the root itself belongs in the list"),
    Wrong("topological_order", order_forgot_return, hint="did you forget `return`"),
    Wrong("backward", backward_recursive, hint="recursion that double-counts shared nodes"),
    Wrong("backward", backward_not_seeded, hint="grads not seeded with 1"),
]

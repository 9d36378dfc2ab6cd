"""Hidden cases of lesson 03 (see README.md): graphs the lesson never shows, as op lists.

An op list builds a graph node by node: ``("leaf", name)``, ``("+", i, j)``, ``("*", i, j)``,
``("exp", i)``, ``("log", i)``, ``("relu", i)``; an operand is the index of an earlier op or a
number (a constant); the last op is the root (see ``cnnlab.grading.lesson03._from_ops``).
"""

from cnnlab.grading.lesson03 import _graph_case, _order_case

# s = log(r r + exp(p) q) + relu(r - 1) with r = p q: r is used three times.
_LOG_RELU = [("leaf", "p"), ("leaf", "q"), ("*", 0, 1), ("*", 2, 2), ("exp", 0), ("*", 4, 1), ("+", 3, 5),
             ("log", 6), ("+", 2, -1.0), ("relu", 8), ("+", 7, 9)]
# u = relu(t) * 3 + t at a negative t: no gradient through relu, 1 through the sum.
_DEAD_RELU = [("leaf", "t"), ("relu", 0), ("*", 1, 3.0), ("+", 2, 0)]
# A diamond: d = exp(a) feeds both a product and a sum, which meet again.
_DIAMOND = [("leaf", "a"), ("leaf", "b"), ("exp", 0), ("*", 2, 1), ("+", 2, 1), ("*", 3, 4), ("+", 5, 0)]
# A deep chain of products and sums, 30 levels, each reusing the leaf.
_DEEP = [("leaf", "a"), ("leaf", "b")] + [op for i in range(30) for op in
                                          (("*", 1 + 2 * i if i else 0, 1), ("+", 2 + 2 * i, 0))]

CASES = {
    "graph_ops": [
        _graph_case("", _LOG_RELU, p=0.7, q=1.9),
        _graph_case("", _DEAD_RELU, t=-0.4),
        _graph_case("", _DIAMOND, a=0.3, b=-1.2),
    ],
    "topological_order": [
        _order_case("", [("leaf", "x"), ("*", 0, 0), ("+", 1, 0), ("*", 2, 1)], x=1.5),
        _order_case("", _DIAMOND, a=0.3, b=-1.2),
        _order_case("", _DEEP, a=0.5, b=0.9),
    ],
    "backward": [
        _order_case("", [("leaf", "a"), ("leaf", "b"), ("*", 0, 1), ("+", 2, 0), ("exp", 3)], a=1.0, b=2.0),
        _order_case("", [("leaf", "lone")], lone=4.0),
        _order_case("", _LOG_RELU, p=0.7, q=1.9),
        _order_case("", _DEEP, a=0.5, b=0.9),
    ],
}

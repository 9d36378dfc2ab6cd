"""The loop detector of lesson 05's conv2d_fast: Python line events, counted without timing."""

import sys

import numpy as np

from cnnlab.grading.lesson05 import line_events


def summed(n):
    total = 0
    for i in range(n):
        total += i
    return total


def padded(x):
    return np.pad(x, 3)


def test_a_loop_counts_its_lines_once_per_iteration():
    # total = 0; the for line n + 1 times (the last test ends the loop); the body n times; return
    (result_2, lines_2), (result_16, lines_16) = line_events(summed, 2), line_events(summed, 16)
    assert (result_2, result_16) == (1, 120)
    assert lines_16 - lines_2 == 2 * (16 - 2)   # the for line and the body, once per iteration
    assert lines_2 == 2 * 2 + 3


def test_library_code_is_not_counted():
    small, large = np.zeros((1, 2)), np.zeros((40, 50))
    (_, n_small), (_, n_large) = line_events(padded, small), line_events(padded, large)
    assert n_small == n_large == 1


def test_the_functions_it_calls_count_too_and_the_tracer_is_removed_after():
    before = sys.gettrace()

    def outer(n):
        return summed(n)

    assert line_events(outer, 4)[1] == 1 + 2 * 4 + 3
    assert sys.gettrace() is before

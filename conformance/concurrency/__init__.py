"""Concurrency: several clients on one queue, and the checkers that judge what they did.

`recorder` records a history from client threads, `programs` and `parallel` draw and shrink
small parallel programs, `history` is the recorded value, `fastcheck` (O(n log n), never a
false alarm) and `linearize` (the exact search, with a budget) judge it, `timeline` draws it,
and `check` runs all of them as the concurrency profile does.
"""

"""The queues the suite checks itself against: broken ones it must catch, correct ones it must pass.

`catalogue` lists every one of them in one record shape (the clauses a broken queue must be
caught on, the profile that must catch it or that a correct queue must pass); `mutants` holds
the queues with a sequential bug (and the durable one a restart empties), `race_mutants` the
ones broken only under concurrency, `fault_mutants` the ones broken only under faults (and two
that handle faults correctly), and `variants` correct queues that make different allowed
choices.
"""

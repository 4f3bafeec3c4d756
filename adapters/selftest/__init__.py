"""The queues the suite checks itself against: broken ones it must catch, correct ones it must pass.

`mutants` holds the broken queues (sequential bugs, and the catalogue of every broken queue),
`race_mutants` the ones broken only under concurrency, `fault_mutants` the ones broken only
under faults, and `variants` correct queues that make different allowed choices.
"""

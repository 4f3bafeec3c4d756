"""The core of the harness: one case, one queue, the model beside it.

`session` drives a backend and the model side by side (`calls` turns each call into an answer
and holds the one drain loop; `violations` is the error a divergence raises, one subclass per
clause); `clock` is the virtual clock; `transcript` records what a case did; `strategies` draws
tasks; `scenarios` holds one fixed program per clause; `statemachine` is the Hypothesis state
machine on virtual time and `realclock` the same on the queue's own clock; `engine` runs a
profile (`profiles`): the scenarios, then the search `phases`, each machine searched by
`machine_search`; it yields the `events`, which carry the values a run produces (`results`),
and `tally` folds them into clause verdicts.
"""

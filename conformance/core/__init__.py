"""The core of the harness: one case, one queue, the model beside it.

`session` drives a backend and the model side by side; `clock` is the virtual clock;
`transcript` records what a case did; `strategies` draws tasks; `scenarios` holds one fixed
program per clause; `statemachine` is the Hypothesis state machine on virtual time and
`realclock` the same on the queue's own clock; `engine` runs a profile (`profiles`) and yields
events; `results` holds the values a run produces and `tally` folds them into clause verdicts.
"""

"""The front ends: how people and programs run the harness.

`cli` (the ``mqspec`` command, the only click importer), `pytest_plugin` and `suite_tests`
(``pytest --mq URL``, the only pytest importers), `api` (`check`, one call from a test),
`reports` and `junit` (report files), `replay` (re-run a transcript), `render` (the one renderer),
`selftest` (the suite against its own broken queues) and `matrix` (the shipped adapters'
conformance table).
"""

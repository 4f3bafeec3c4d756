"""mqspec.adapters: backends behind one adapter contract.

`base` is the contract (`QueueAdapter`) and `registry` opens one from a URL; `options` parses
and checks every URL option and names every table, the one way. The backends: `memory`,
`sqlite` (the embedded default), `redis`, `postgresql` and `mariadb`; the stored ones share
`json_store` (task encoding and answers), the servers `server_url` (URL, connection, reset)
and the SQL servers `server_sql`. `process` is the ``exec:`` adapter for a driver in any
language (`driver_protocol` its messages, `driver_process` the child process); `host` serves a
Python adapter over that protocol; `ownclock` runs an in-process queue on its own clock.
`selftest/` holds the queues the suite checks itself against; `drivers/` the example drivers
and the Go kit. Nothing here imports the harness.
"""

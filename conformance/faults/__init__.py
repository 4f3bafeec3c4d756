"""Faults and crashes: break operations on purpose and prove no job is lost.

`injection` injects faults at the adapter boundary (`FaultyQueue`), `proxy` breaks a server's
connection at the TCP level, `runs` is the fault state machine, `crash` kills the process that
holds a durable queue, and `ledger` counts what a final drain lost, duplicated or invented.
"""

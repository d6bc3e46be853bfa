"""One run of the plan (harness/run/session.py wires it):

    session        the run: switch, capture, stall guard, agents, result store
    runner         one plan row: place the call, measure it, judge it
    schedule       rows placed concurrently, never two calls on one party
    busyhour       the busy-hour row: every line in a call at once
    guard          the host-stall guard
    breaker        the circuit breaker: calls in a row that lost the switch
    billing        the run's billing close-out: CDR book, summary, billing.txt
    registrations  where each beta line is registered, and moving it (TLS, access links)
    hooks          the harness's own test faults: one frozen value
"""

"""The collaborators a harness session is made of (harness/session.py wires them):

    breaker        the circuit breaker: calls in a row that lost the switch
    billing        the run's billing close-out: CDR book, summary, billing.txt
    registrations  where each beta line is registered, and moving it (TLS, access links)
    hooks          the harness's own test faults: one frozen value
"""

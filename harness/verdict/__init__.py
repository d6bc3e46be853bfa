"""Judging: what a call, a row and the run are held to, as data a person can sign.

    checks      Check / Outcome: one criterion's figure, limit and where it came from
    call_types  per-call-type expectations checked against what happened on the call
    metrics     RFC 6076 set-up timing from an agent's timeline, and a call's verdict
    thresholds  thresholds as data ("srd_s p95 < 3.0"), per call class and codec
    secure      TLS signalling and SRTP media checks of a secure call
    aggregate   RFC 6076 aggregate metrics per call class and overall
    run         the run's one verdict (ACCEPTED / NOT ACCEPTED / INCOMPLETE / PARTIAL)
"""

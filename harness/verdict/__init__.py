"""Judgements the harness hands a person to sign (the run's one verdict: `run.py`)."""

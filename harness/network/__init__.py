"""The harness's own network: access links (network namespaces and veth pairs, for
the lines a row under an impairment profile moves behind them), the NFQUEUE delay
and loss stage, the impairment profiles, and the faults the harness injects into its
own loopback test bed."""

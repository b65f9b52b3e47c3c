"""Demo data: a realistic, reproducible two-year sales history, made through the domain rules.

Every status change is decided by `Lead.transition()` or `Lead.reopen()` and applied with
`Lead.apply()`, so the demo database holds nothing the API itself would refuse; the market in
`market` gives the history the skew the metrics are meant to reveal.
"""

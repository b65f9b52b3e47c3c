"""What an operator sees of a running service: Prometheus metrics, request lines, request ids.

Kept apart from the API and the services: routes and use cases only report what happened (a
recorded status change, a settled delivery); this package decides how it is counted and logged.
"""

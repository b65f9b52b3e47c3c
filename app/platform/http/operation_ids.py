"""Operation ids: one rule for every operation in the OpenAPI document.

An operation's id is its route's name in lower camel case (`transition_lead` becomes
`transitionLead`). A route's name is its function's, so the functions are named for what the call
does (`metrics_summary`, `receive_intake_delivery`). Generated clients name their methods and
types after these ids; FastAPI's default (`transition_lead_v1_leads__lead_id__transitions_post`)
would leak the path and the method into every one of them, and change with either.
"""

from __future__ import annotations

from fastapi.routing import APIRoute


def camel_case(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def operation_id(route: APIRoute) -> str:
    return camel_case(route.name)

"""Email addresses validated exactly as pydantic's `EmailStr` does, at a fraction of the cost.

`email-validator` spends most of its time on an address on Unicode and IDNA handling that a
plain ASCII address never needs: a bulk import of 1,000 leads spent more time there than in
PostgreSQL (docs/performance.md has the figures). Addresses of the common shape
(an ASCII dot-atom local part, an ASCII host name under a letters-only top-level domain,
nothing special-use) are checked here with a regular expression and normalized the way
`email-validator` does (the domain lower-cased, the local part kept); every other input goes
to pydantic's own validator, so it is accepted, normalized or refused with the very same
message. `tests/leads/test_domain_emails.py` checks the two agree.
"""

from __future__ import annotations

import re
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import AfterValidator, WithJsonSchema
from pydantic.networks import validate_email

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_ADDRESS = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _special_use(domain: str) -> bool:
    return any(domain == name or domain.endswith("." + name) for name in _SPECIAL)


def normalized_email(value: str) -> str:
    """The address as `EmailStr` would return it; raises its error when it would."""
    plain = PLAIN_ADDRESS.fullmatch(value)
    if plain is not None and len(value) <= 254 and len(plain[1]) <= 64:
        domain = plain[2].lower()
        # "--" in a label can be an IDNA A-label; let email-validator judge those.
        if "--" not in domain and not _special_use(domain):
            return f"{plain[1]}@{domain}"
    return validate_email(value)[1]


Email = Annotated[
    str,
    AfterValidator(normalized_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]

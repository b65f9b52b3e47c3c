"""Who the leads are: names, companies, titles and countries, with each country's currency.

Emails carry the seed and the lead id, so no two demo leads (of this run or of another seed run
into the same database) share one: the database allows only one open lead per email.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import NamedTuple

from app.demo.mix import Mix, one_of


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    currency: str
    usd_rate: float
    """Units of the local currency per US dollar, so deal values read naturally."""
    calling_code: str
    legal_form: str


class Contact(NamedTuple):
    email: str
    first_name: str
    last_name: str
    company: str
    title: str
    phone: str | None


COUNTRIES: Mix[Country] = Mix.of(
    {
        Country("US", "USD", 1.0, "1", "Inc."): 0.42,
        Country("GB", "GBP", 0.79, "44", "Ltd"): 0.11,
        Country("DE", "EUR", 0.92, "49", "GmbH"): 0.09,
        Country("CA", "CAD", 1.36, "1", "Inc."): 0.06,
        Country("FR", "EUR", 0.92, "33", "SAS"): 0.05,
        Country("AU", "AUD", 1.52, "61", "Pty Ltd"): 0.05,
        Country("NL", "EUR", 0.92, "31", "B.V."): 0.04,
        Country("IN", "INR", 83.0, "91", "Pvt Ltd"): 0.04,
        Country("SE", "SEK", 10.5, "46", "AB"): 0.03,
        Country("ES", "EUR", 0.92, "34", "S.L."): 0.03,
        Country("CH", "CHF", 0.88, "41", "AG"): 0.02,
        Country("BR", "BRL", 5.0, "55", "Ltda"): 0.02,
        Country("JP", "JPY", 150.0, "81", "K.K."): 0.02,
        Country("SG", "SGD", 1.35, "65", "Pte Ltd"): 0.02,
    }
)

FIRST_NAMES: tuple[str, ...] = (
    "Dana", "Alex", "Maria", "James", "Priya", "Chen", "Fatima", "Lukas", "Emma", "Oliver",
    "Sofia", "Mateo", "Aisha", "Noah", "Hannah", "Kenji", "Laura", "David", "Amara", "Jonas",
    "Chloe", "Ravi", "Isabel", "Tom", "Yuki", "Omar", "Grace", "Felix", "Nadia", "Lucas",
    "Elena", "Samuel", "Ingrid", "Diego", "Mia", "Arjun", "Clara", "Ethan", "Zoe", "Marco",
    "Leah", "Hugo", "Anya", "Ben", "Rosa", "Daniel", "Freya", "Victor", "Julia", "Kwame",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Whitfield", "Garcia", "Smith", "Patel", "Chen", "Müller", "Johnson", "Rossi", "Nguyen",
    "Kowalski", "Brown", "Silva", "Okafor", "Schmidt", "Tanaka", "Dubois", "Jensen", "Lopez",
    "Murphy", "Novak", "Khan", "Andersson", "Wilson", "Moreau", "Hughes", "Bakker", "Fischer",
    "Kim", "Costa", "O'Brien", "Sato", "Ivanova", "Clarke", "Martin", "Haddad", "Lindqvist",
    "Walker", "Fernández", "Weber", "Singh", "Taylor", "Janssen", "Reyes", "Bauer", "Evans",
)  # fmt: skip
COMPANY_STEMS: tuple[str, ...] = (
    "Northwind", "Brightlane", "Bluepeak", "Cobalt", "Evergreen", "Ironbridge", "Lumen",
    "Maplestone", "Nimbus", "Oakridge", "Pinecrest", "Quarry", "Redwood", "Silverline", "Summit",
    "Tidewater", "Vertex", "Westfield", "Harbor", "Granite", "Keystone", "Meridian", "Alder",
    "Copperfield", "Driftwood", "Falcon", "Glacier", "Helix", "Juniper", "Kestrel", "Larkspur",
)  # fmt: skip
COMPANY_KINDS: tuple[str, ...] = (
    "Traders", "Labs", "Logistics", "Health", "Systems", "Foods", "Analytics", "Partners",
    "Manufacturing", "Retail", "Energy", "Media", "Dental", "Legal", "Freight", "Software",
)  # fmt: skip
TITLES: tuple[tuple[str, ...], ...] = (
    ("Owner", "Founder", "Office Manager", "Operations Manager", "General Manager"),
    ("Head of Operations", "IT Director", "VP Sales", "Finance Manager", "Procurement Lead"),
    ("CIO", "VP Operations", "Director of Procurement", "Head of Digital", "Chief of Staff"),
)

_ASCII = str.maketrans({"ü": "ue", "á": "a", "é": "e", "'": ""})


def contact(rng: Random, *, lead_id: int, seed: int, segment: int, country: Country) -> Contact:
    """A prospect at a company; the email's `+seed.id` tag keeps it unique in the database."""
    first = one_of(rng, FIRST_NAMES)
    last = one_of(rng, LAST_NAMES)
    stem = one_of(rng, COMPANY_STEMS)
    kind = one_of(rng, COMPANY_KINDS)
    titles = TITLES[segment]
    local = f"{first}.{last}".lower().translate(_ASCII)
    email = f"{local}+{seed}.{lead_id}@{stem.lower()}{kind.lower()}.example"
    phone = None
    if rng.random() < 0.7:
        phone = f"+{country.calling_code} {100_000_000 + int(rng.random() * 899_999_999)}"
    return Contact(
        email,
        first,
        last,
        f"{stem} {kind} {country.legal_form}",
        one_of(rng, titles),
        phone,
    )

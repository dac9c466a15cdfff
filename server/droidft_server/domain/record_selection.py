"""Which records of its data a job trains on: the one rule that create counts by and the worker filters by.

Dr. GRPO trains on the records of its domain and on those that name none; "general" takes every
domain. Every other method trains on every record.
"""

from __future__ import annotations

from collections.abc import Mapping

from .spec import JobSettings

# The domain that takes records of every domain.
EVERY_DOMAIN = "general"


def kept_domain(settings: JobSettings) -> str | None:
    """The one domain whose records the job keeps; None: it keeps every record."""
    if settings.method != "dr_grpo" or settings.policy.domain == EVERY_DOMAIN:
        return None
    return settings.policy.domain


def keeps(domain: str | None, record_domain: str | None) -> bool:
    """Whether a job that keeps `domain` (see kept_domain) trains on a record of `record_domain`."""
    return domain is None or record_domain is None or record_domain == domain


def records_used(domain: str | None, record_count: int, domains: Mapping[str, int]) -> int:
    """Records of a file the job trains on, from validation's count of each domain (empty: the format has none)."""
    if domain is None or not domains:
        return record_count
    return domains.get(domain, 0)

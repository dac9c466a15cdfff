"""Whether a job fits the device, in words a user can act on."""

from __future__ import annotations

from .estimate import Estimate


def format_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_fit(estimate: Estimate) -> tuple[bool, str]:
    """(fits, message): the predicted peak against the memory available, with the advice when it does not fit."""
    figures = (
        f"predicted peak memory {format_bytes(estimate.peak_memory_bytes)} of "
        f"{format_bytes(estimate.available_memory_bytes)} available on {estimate.device}"
    )
    if estimate.fits:
        return True, f"{figures}: fits"
    fixes = [f"{a.change} ({format_bytes(a.peak_memory_bytes)}{', fits' if a.fits else ''})" for a in estimate.advice]
    message = f"{figures}: does not fit"
    if fixes:
        message += "; try " + ", ".join(fixes)
    return False, message

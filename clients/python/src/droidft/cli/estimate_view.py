"""Pure rendering of a resource estimate."""

from __future__ import annotations

from droidft.cli.render import format_bytes, format_duration, format_table
from droidft.v1 import resources_pb2


def breakdown_rows(breakdown: resources_pb2.MemoryBreakdown) -> list[tuple[str, str]]:
    """Each memory component that takes any room, largest first."""
    parts = [
        (field.name.removesuffix("_bytes").replace("_", " "), value) for field, value in breakdown.ListFields() if value
    ]
    return [(name, format_bytes(value)) for name, value in sorted(parts, key=lambda part: -part[1])]


def estimate_report(estimate: resources_pb2.ResourceEstimate) -> str:
    verdict = "fits" if estimate.fits else "does NOT fit"
    lines = [
        f"peak memory: {format_bytes(estimate.peak_memory_bytes)} of {format_bytes(estimate.available_memory_bytes)}"
        f" available on {estimate.device or 'the device'}: {verdict}",
        f"time:        {estimate.seconds_per_iteration:.3g} s per iteration, "
        f"{format_duration(estimate.total_seconds)} in all",
        f"parameters:  {estimate.trainable_parameters:,} trainable of {estimate.total_parameters:,}",
    ]
    if estimate.ranks > 1:
        lines.append(
            f"ranks:       {estimate.ranks}, {format_bytes(estimate.per_rank_peak_memory_bytes)} each; "
            f"expected speed-up {estimate.expected_speedup:.2f}x over one process"
        )
    sections = ["\n".join(lines)]
    rows = breakdown_rows(estimate.breakdown)
    if rows:
        sections.append(format_table(("MEMORY", "SIZE"), rows))
    if estimate.advice:
        advice = (
            (
                a.change,
                format_bytes(a.peak_memory_bytes),
                f"{a.seconds_per_iteration:.3g} s",
                "yes" if a.fits else "no",
                a.description,
            )
            for a in estimate.advice
        )
        sections.append(format_table(("CHANGE", "PEAK MEMORY", "PER ITERATION", "FITS", "WHY"), advice))
    return "\n\n".join(sections)

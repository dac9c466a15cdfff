"""Pure rendering of the methods the server offers."""

from __future__ import annotations

from droidft.cli.render import format_table
from droidft.enums import method_name
from droidft.v1 import methods_pb2

PARAMETER_HEADERS = ("PARAMETER", "TYPE", "RANGE", "DEFAULT", "DESCRIPTION")


def parameter_type_name(value: int) -> str:
    return methods_pb2.ParameterType.Name(value).removeprefix("PARAMETER_TYPE_").lower()


def format_bound(value: float) -> str:
    """A range bound as written in the contract: whole numbers in full ("1000000"), others short ("1e-06")."""
    return str(int(value)) if value.is_integer() else f"{value:g}"


def format_range(parameter: methods_pb2.ParameterInfo) -> str:
    """Allowed values in interval notation: "[1, 8]", "(0, 1]", ">= 0", "a | b"; empty when unbounded."""
    if parameter.allowed_values:
        return " | ".join(parameter.allowed_values)
    has_min, has_max = parameter.HasField("minimum"), parameter.HasField("maximum")
    low = format_bound(parameter.minimum) if has_min else ""
    high = format_bound(parameter.maximum) if has_max else ""
    if has_min and has_max:
        opening = "(" if parameter.minimum_exclusive else "["
        closing = ")" if parameter.maximum_exclusive else "]"
        return f"{opening}{low}, {high}{closing}"
    if has_min:
        return f"{'>' if parameter.minimum_exclusive else '>='} {low}"
    if has_max:
        return f"{'<' if parameter.maximum_exclusive else '<='} {high}"
    return ""


def format_allowed_and_recommended(parameter: methods_pb2.ParameterInfo) -> str:
    """The allowed range, and the recommended one where the catalogue gives a narrower one."""
    allowed = format_range(parameter)
    if not (parameter.HasField("recommended_minimum") and parameter.HasField("recommended_maximum")):
        return allowed
    low, high = format_bound(parameter.recommended_minimum), format_bound(parameter.recommended_maximum)
    return f"{allowed}, recommended [{low}, {high}]"


def method_section(info: methods_pb2.MethodInfo) -> str:
    """One method: title line, formats, rewards and a table of its parameters."""
    availability = "" if info.available else "  (not available on this server)"
    lines = [f"{method_name(info.method)}: {info.title}{availability}"]
    if info.reference:
        lines.append(f"  reference: {info.reference}")
    lines.append(f"  data formats: {', '.join(info.data_formats) or '-'}")
    if info.rewards:
        lines.append(f"  rewards: {', '.join(reward.name for reward in info.rewards)}")
    rows = (
        (p.path, parameter_type_name(p.type), format_allowed_and_recommended(p), p.default_value, p.description)
        for p in info.parameters
    )
    lines.append(format_table(PARAMETER_HEADERS, rows, indent="  "))
    return "\n".join(lines)


def methods_overview(methods: list[methods_pb2.MethodInfo]) -> str:
    rows = (
        (method_name(m.method), m.title, "yes" if m.available else "no", ", ".join(m.data_formats)) for m in methods
    )
    return format_table(("METHOD", "TITLE", "AVAILABLE", "DATA FORMATS"), rows)

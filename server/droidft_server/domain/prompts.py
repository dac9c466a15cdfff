"""System prompts the GRPO family builds: Dr. GRPO's per domain and expertise level, GRPO's step format.

Exported as SYSTEM_PROMPT_TEMPLATES so that ListTrainingMethods shows exactly what a job sends.
"""

from __future__ import annotations

DOMAIN_ROLES = {
    "general": "a careful assistant who answers questions on any subject",
    "medical": "a clinician who answers medical questions with attention to safety and evidence",
    "scientific": "a scientist who answers with precise quantities, units and reasoning from first principles",
    "legal": "a lawyer who answers by identifying the applicable rule and applying it to the facts",
    "technical": "an engineer who answers with exact specifications, calculations and working methods",
}

LEVEL_AUDIENCES = {
    "beginner": "a newcomer: define every term and show each step in plain words",
    "intermediate": "a reader with some background: explain the key steps briefly",
    "advanced": "a practitioner: be concise and use the field's standard terminology",
    "expert": "a specialist: give only the essential steps, in technical shorthand",
}

ANSWER_FORMAT = "Reason in numbered lines 'Step 1: ...', then give the final answer on its own line as 'Answer: ...'."


def _domain_prompt(domain: str, level: str) -> str:
    return f"You are {DOMAIN_ROLES[domain]}. Write for {LEVEL_AUDIENCES[level]}. {ANSWER_FORMAT}"


SYSTEM_PROMPT_TEMPLATES: dict[str, str] = {
    f"{domain}/{level}": _domain_prompt(domain, level) for domain in DOMAIN_ROLES for level in LEVEL_AUDIENCES
}


def domain_system_prompt(domain: str, expertise_level: str) -> str:
    """Dr. GRPO's system prompt for a domain and expertise level (names as in spec.DOMAINS / EXPERTISE_LEVELS)."""
    return SYSTEM_PROMPT_TEMPLATES[f"{domain}/{expertise_level}"]


def step_format_prompt(reasoning_steps: int) -> str:
    """GRPO's system prompt: ask for exactly the number of steps the step-format reward expects."""
    return (
        f"Solve the problem in exactly {reasoning_steps} numbered steps, one per line as 'Step 1: ...', "
        "then give the final answer on its own line as 'Answer: ...'."
    )

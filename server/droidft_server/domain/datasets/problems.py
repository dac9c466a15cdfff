"""Small problems with exactly checkable answers: arithmetic, counting, sorting, unit conversion.

Numbers stay small and answers short, so that a tiny model can learn them. Every index below
SPACE gives a different problem text, and every run of 20 indices covers each Dr. GRPO domain
at each expertise level, so a sample of any size has no duplicate and mixes its settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .formats.dr_grpo import DOMAINS, EXPERTISE_LEVELS

KINDS = ("arithmetic", "counting", "sorting", "unit_conversion")
NAMES = (
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vic",
    "Wen",
    "Xia",
    "Yuri",
    "Zoe",
    "Amir",
    "Bea",
    "Cruz",
    "Dev",
    "Emma",
    "Finn",
    "Gia",
    "Hugo",
    "Isla",
    "Jon",
    "Kim",
    "Luis",
    "Mia",
    "Noor",
)
VARIANTS = 4
DIGITS = 10
SETTINGS = len(KINDS) * len(DOMAINS) * len(EXPERTISE_LEVELS)
REST = len(NAMES) * VARIANTS * DIGITS * DIGITS
SPACE = SETTINGS * REST
_SETTING_OFFSET = 7919


@dataclass(frozen=True)
class Vocabulary:
    noun: str  # things counted
    container: str
    label: str  # a number written on something
    measures: str  # values one sorts
    place: str


VOCABULARY = {
    "general": Vocabulary("apples", "baskets", "house number", "ages in years", "kitchen"),
    "medical": Vocabulary("tablets", "boxes", "patient number", "pulse rates", "clinic"),
    "scientific": Vocabulary("samples", "trays", "sample code", "temperatures in kelvin", "laboratory"),
    "legal": Vocabulary("documents", "folders", "case number", "fines in euros", "courthouse"),
    "technical": Vocabulary("files", "servers", "port number", "response times in ms", "data center"),
}
LEVEL_BASE = {"beginner": 1, "intermediate": 11, "advanced": 21, "expert": 31}
CONVERSIONS = (
    ("km", "km", "m", 1000),
    ("hours", "hour", "minutes", 60),
    ("kg", "kg", "g", 1000),
    ("minutes", "minute", "seconds", 60),
)


@dataclass(frozen=True)
class Problem:
    question: str
    steps: tuple[str, ...]
    key_steps: tuple[int, ...]  # 1 for a step that carries the computation, 0 for one that restates
    answer: str
    wrong_answer: str  # plausible and different from answer
    kind: str
    domain: str
    expertise_level: str


@dataclass(frozen=True)
class _Draw:
    name: str
    variant: int
    u: int
    v: int
    base: int  # smallest number of the expertise level
    words: Vocabulary


class ProblemSequence:
    """The seed's order over the problem space: problem(i) for i = 0, 1, ... never repeats."""

    def __init__(self, seed: int):
        rng = random.Random(seed)
        self._shift = int(rng.random() * SPACE)
        step = 1 + 2 * int(rng.random() * REST / 2)  # odd ...
        self._step = step + 2 if step % 5 == 0 else step  # ... and not a multiple of 5: coprime with REST

    def problem(self, index: int) -> Problem:
        if not 0 <= index < SPACE:
            raise ValueError(f"at most {SPACE} distinct problems; asked for number {index}")
        shifted = (index + self._shift) % SPACE
        # For each setting, rest runs through all of REST (step is coprime with it); the
        # setting's own offset varies names and numbers between neighbouring records.
        setting = shifted % SETTINGS
        rest = (shifted // SETTINGS * self._step + setting * _SETTING_OFFSET) % REST
        # domain and level change fastest; the kind turns with them (a bijection of the setting).
        domain, level, turn = setting % 5, setting // 5 % 4, setting // 20
        kind = (turn + level + domain) % 4
        rest, v = divmod(rest, DIGITS)
        rest, u = divmod(rest, DIGITS)
        name, variant = divmod(rest, VARIANTS)
        domain_name, level_name = DOMAINS[domain], EXPERTISE_LEVELS[level]
        draw = _Draw(NAMES[name], variant, u, v, LEVEL_BASE[level_name], VOCABULARY[domain_name])
        question, steps, key_steps, answer, wrong = _KIND_MAKERS[KINDS[kind]](draw, level)
        return Problem(question, steps, key_steps, answer, wrong, KINDS[kind], domain_name, level_name)


def _arithmetic(d: _Draw, level: int):
    a, b, w = d.base + d.u, 1 + d.v, d.words
    if d.variant == 0:
        question = f"{d.name} has {a} {w.noun} and gets {b} more. How many {w.noun} does {d.name} have now?"
        steps, answer = (f"Start with {a} {w.noun}.", f"Add the {b} new {w.noun}.", f"{a} + {b} = {a + b}."), a + b
    elif d.variant == 1:
        total = a + b
        question = f"{d.name} has {total} {w.noun} and gives away {b}. How many {w.noun} are left?"
        steps, answer = (f"Start with {total} {w.noun}.", f"Take away {b}.", f"{total} - {b} = {a}."), a
    elif d.variant == 2:
        question = f"{d.name} fills {a} {w.container} with {b} {w.noun} each. How many {w.noun} is that in total?"
        steps, answer = (f"There are {a} {w.container}.", f"Each holds {b} {w.noun}.", f"{a} * {b} = {a * b}."), a * b
    else:
        total = a * b
        question = f"{d.name} shares {total} {w.noun} equally among {b} {w.container}. How many {w.noun} go into each?"
        steps, answer = (
            (f"There are {total} {w.noun}.", f"Split them into {b} equal parts.", f"{total} / {b} = {a}."),
            a,
        )
    return question, steps, (0, 1, 1), str(answer), str(answer + 1)


def _counting(d: _Draw, level: int):
    digit = d.variant + 1
    # The level sets the length, so the same digits at two levels still read differently.
    digits = [digit, d.u, digit, d.v] + [[], [digit], [d.u, digit], [digit, d.v, digit]][level]
    number = "".join(map(str, digits))
    count = number.count(str(digit))
    question = f"{d.name} reads the {d.words.label} {number}. How many times does the digit {digit} appear in it?"
    steps = (f"The digits are {', '.join(number)}.", f"Mark every {digit}.", f"There are {count} of them.")
    return question, steps, (0, 1, 1), str(count), str(count + 1)


def _sorting(d: _Draw, level: int):
    values = (d.base + d.u, d.base + d.v, d.base + (d.u + d.v + 3 * d.variant) % DIGITS)
    ordered = sorted(values)
    answer = ", ".join(map(str, ordered))
    wrong = ", ".join(map(str, [*ordered[:2], ordered[2] + 1]))
    question = (
        f"{d.name} notes these {d.words.measures}: {values[0]}, {values[1]}, {values[2]}. "
        "List them from smallest to largest."
    )
    steps = (
        f"The values are {values[0]}, {values[1]} and {values[2]}.",
        f"The smallest is {ordered[0]} and the largest is {ordered[2]}.",
        f"In order: {answer}.",
    )
    return question, steps, (0, 1, 1), answer, wrong


def _unit_conversion(d: _Draw, level: int):
    units, unit, target, factor = CONVERSIONS[d.variant]
    whole = d.base + d.u
    amount = f"{whole}.{d.v}" if d.v else str(whole)
    result = (whole * DIGITS + d.v) * factor // DIGITS
    question = f"In the {d.words.place}, {d.name} measures {amount} {units}. How many {target} is that?"
    steps = (f"1 {unit} is {factor} {target}.", f"Multiply {amount} by {factor}.", f"{amount} * {factor} = {result}.")
    return question, steps, (1, 0, 1), str(result), str(result + 1)


_KIND_MAKERS = {
    "arithmetic": _arithmetic,
    "counting": _counting,
    "sorting": _sorting,
    "unit_conversion": _unit_conversion,
}

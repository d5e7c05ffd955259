"""Three-valued evaluation of eligibility conditions.

Leaf conditions are rule-engine expressions (a maintained, typed expression language: admins write
``age >= 60 and hukou_region == 'guangxi'``, and a typo'd field name is rejected when the rule is
compiled, not when a resident asks). We evaluate each leaf on its own so every condition gets its own
reason, and combine leaves with Kleene logic: a leaf whose fields are unknown is ``None`` (needs info),
not False.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache

import rule_engine

from knowledge.catalogue.models import Condition, Service
from knowledge.catalogue.profile import ResidentProfile
from knowledge.sources import REGION_NAMES


class RuleError(ValueError):
    """A condition expression does not compile against the profile schema."""


def _data_type(annotation: object) -> rule_engine.DataType:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _data_type(args[0])
    if origin is typing.Annotated:
        return _data_type(args[0])
    if origin is typing.Literal:
        return (
            rule_engine.DataType.FLOAT
            if all(isinstance(a, int) for a in args)
            else rule_engine.DataType.STRING
        )
    if origin is list:
        return rule_engine.DataType.ARRAY(_data_type(args[0]))
    if annotation is bool:
        return rule_engine.DataType.BOOLEAN
    if annotation in (int, float):
        return rule_engine.DataType.FLOAT
    if annotation is str:
        return rule_engine.DataType.STRING
    raise TypeError(f"no rule-engine type for {annotation!r}")


FIELD_TYPES: dict[str, rule_engine.DataType] = {
    name: _data_type(field.annotation) for name, field in ResidentProfile.model_fields.items()
}


@dataclass(frozen=True)
class CompiledLeaf:
    rule: rule_engine.Rule
    fields: tuple[str, ...]  # profile fields the expression reads


@cache
def compile_expression(expression: str) -> CompiledLeaf:
    used: list[str] = []

    def resolve(name: str) -> rule_engine.DataType:
        if name not in FIELD_TYPES:
            raise rule_engine.errors.SymbolResolutionError(name)
        used.append(name)
        return FIELD_TYPES[name]

    try:
        rule = rule_engine.Rule(expression, context=rule_engine.Context(type_resolver=resolve))
    except rule_engine.errors.SymbolResolutionError as exc:
        raise RuleError(f"{expression!r}: unknown profile field {exc.symbol_name!r}") from exc
    except rule_engine.errors.EngineError as exc:
        raise RuleError(f"{expression!r}: {exc.message}") from exc
    return CompiledLeaf(rule, tuple(dict.fromkeys(used)))


def validate_condition(condition: Condition) -> None:
    if condition.when is not None:
        compile_expression(condition.when)
    for child in (condition.any or []) + (condition.all or []):
        validate_condition(child)


@dataclass(frozen=True)
class Outcome:
    """Result of one condition: True / False / None (unknown), with the fields still missing."""

    value: bool | None
    condition: Condition
    missing: tuple[str, ...] = ()


def evaluate(condition: Condition, facts: dict[str, object], memo: dict[str, bool] | None = None) -> Outcome:
    """``memo`` caches leaf results for one set of facts: services share many expressions (regions)."""
    if condition.when is not None:
        leaf = compile_expression(condition.when)
        missing = tuple(f for f in leaf.fields if facts.get(f) is None)
        if missing:
            return Outcome(None, condition, missing)
        if memo is None:
            return Outcome(bool(leaf.rule.matches(facts)), condition)
        if condition.when not in memo:
            memo[condition.when] = bool(leaf.rule.matches(facts))
        return Outcome(memo[condition.when], condition)
    children = [evaluate(c, facts, memo) for c in (condition.any or condition.all or [])]
    values = [c.value for c in children]
    missing = tuple(dict.fromkeys(f for c in children if c.value is None for f in c.missing))
    if condition.any is not None:
        value = True if True in values else (None if None in values else False)
    else:
        value = False if False in values else (None if None in values else True)
    return Outcome(value, condition, missing if value is None else ())


def profile_facts(profile: ResidentProfile) -> dict[str, object]:
    """Profile as rule-engine facts; ints become floats because rule-engine's numbers are floats."""
    facts: dict[str, object] = {}
    for name, value in profile.model_dump().items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            facts[name] = value
        elif isinstance(value, int):
            facts[name] = float(value)
        elif isinstance(value, list):
            facts[name] = tuple(float(v) for v in value)
        else:
            facts[name] = value
    return facts


_REGION_FIELDS = {"hukou_region", "residence_region"}


def _reads_region(condition: Condition) -> bool:
    if condition.when is not None:
        return bool(_REGION_FIELDS & set(compile_expression(condition.when).fields))
    return any(_reads_region(c) for c in (condition.any or condition.all or []))


def effective_conditions(service: Service) -> list[Condition]:
    """The service's own conditions, preceded by a region condition when the data states none.

    A plan only binds its own region, so a Ningxia item is never offered to a Guangxi resident.
    """
    if any(_reads_region(c) for c in service.eligibility):
        return list(service.eligibility)
    name = REGION_NAMES[service.region]
    region_rule = Condition(
        any=[
            Condition(when=f"hukou_region == '{service.region}'", because=f"为{name}户籍"),
            Condition(when=f"residence_region == '{service.region}'", because=f"在{name}常住"),
        ],
        because=f"在{name}常住或为{name}户籍（本服务出自{name}的规划）",
    )
    return [region_rule, *service.eligibility]

"""Prometheus series selectors (``http_requests_total{route!~"/health.*",status=~"5.."}``) read
against a scrape of a service's ``/metrics``, without a Prometheus server.

A target profile names the series a vocabulary metric is computed from in the syntax every SRE
already reads; label matchers are PromQL's (``=``, ``!=``, ``=~``, ``!~``, regexes anchored at
both ends). A selector that does not parse is refused when the plan loads, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def holds(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op in ("=", "!="):
            return (actual == self.value) == (self.op == "=")
        return (re.fullmatch(self.value, actual) is not None) == (self.op == "=~")


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        return name == self.name and all(m.holds(labels) for m in self.matchers)


def parse_selector(text: str) -> Selector:
    """The selector, or ValueError naming what does not parse."""
    found = _SELECTOR.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a series selector (name{{label=\"value\",...}})")
    name, body = found.group(1), (found.group(2) or "").strip()
    matchers: list[Matcher] = []
    position = 0
    while position < len(body):
        matched = _MATCHER.match(body, position)
        if not matched:
            raise ValueError(f"{text!r}: label matcher {body[position:]!r} does not parse")
        label, op, value = matched.group(1), matched.group(2), matched.group(3).replace('\\"', '"')
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{text!r}: regex {value!r}: {exc}") from None
        matchers.append(Matcher(label, op, value))
        position = matched.end()
    return Selector(name, tuple(matchers))

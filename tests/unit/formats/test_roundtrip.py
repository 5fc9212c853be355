"""Property tests: what a format carries survives rendering and parsing, for any declaration.

For every format F: parse_F(render_F(d)) equals d on the fields F carries, except those the loss
report names. For every pair (F, G): F -> G -> F loses nothing both carry beyond the reports.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.formats import default_registry
from broker.formats.base import pattern_of
from broker.formats.paths import field_values
from broker.model import Declaration
from tests.strategies import declarations
from tests.unit.formats.support import FORMAT_IDS, mismatches, representable, round_trip

REGISTRY = default_registry()
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("format_id", FORMAT_IDS)
@PROPERTY
@given(declaration=declarations(max_items=3))
def test_render_then_parse_keeps_every_carried_field(
    format_id: str, declaration: Declaration
) -> None:
    adapter = REGISTRY.get(format_id)
    assert round_trip(adapter, representable(format_id, declaration)) == {}


@pytest.mark.parametrize("format_id", FORMAT_IDS)
@PROPERTY
@given(declaration=declarations(max_items=3))
def test_loss_report_names_exactly_what_is_not_carried(
    format_id: str, declaration: Declaration
) -> None:
    adapter = REGISTRY.get(format_id)
    declaration = representable(format_id, declaration)
    lost = adapter.render(declaration).loss.paths
    filled = field_values(declaration)
    assert lost <= filled.keys()
    assert {p for p in filled if pattern_of(p) not in adapter.capabilities} <= lost


@pytest.mark.parametrize(("first", "second"), list(itertools.permutations(FORMAT_IDS, 2)))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_through_another_format_and_back_loses_nothing_both_carry(
    first: str, second: str, data: st.DataObject
) -> None:
    one, other = REGISTRY.get(first), REGISTRY.get(second)
    start = representable(first, data.draw(declarations(max_items=2)))
    # What `first` made of it, then made renderable by `second` (e.g. ACDD's mandatory items).
    original = representable(second, one.parse(one.render(start).data))
    there = other.render(original)
    # What `second` could not carry may leave `first` short of mandatory items: filled again,
    # those fields are among the losses `second` reported.
    back = one.render(representable(first, other.parse(there.data)))
    lost = there.loss.paths | back.loss.paths
    both = one.capabilities & other.capabilities
    assert mismatches(original, one.parse(back.data), both, lost) == {}

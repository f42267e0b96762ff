"""Each gate's formula is written once: the docstring's first line states ``formula`` and every
``local`` derivative, so the views (which show ``formula`` and ``local``) and the code agree."""
import inspect

import pytest

from gradgraph import losses, ops
from gradgraph.gate import Gate
from gradgraph.nn.layers import InvertedDropout


def _gates():
    modules = [ops, losses]  # ops.conv's gates state their formulas in longer docstrings
    found = {cls for m in modules for _, cls in inspect.getmembers(m, inspect.isclass)
             if issubclass(cls, Gate) and cls is not Gate and not cls.__name__.startswith("_")}
    return sorted(found | {InvertedDropout}, key=lambda c: c.__name__)


def _statement(cls) -> str:
    """The docstring up to its first blank line (the formula line may wrap)."""
    return " ".join(cls.__doc__.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("gate", _gates(), ids=lambda c: c.__name__)
def test_docstring_states_the_formula_and_local_derivatives(gate):
    text = _statement(gate)
    formula = gate.__dict__.get("formula")
    if formula:  # gates with a parameter (x^p, clamp bounds) build theirs per instance
        assert formula in text, f"{gate.__name__}: formula {formula!r} is not in its docstring {text!r}"
    assert gate.local, f"{gate.__name__} states no local derivative"
    for local in gate.local:
        assert local in text, f"{gate.__name__}: local {local!r} is not in its docstring {text!r}"

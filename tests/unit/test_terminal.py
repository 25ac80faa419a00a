"""terminal.fit: one line cut to the terminal's width, never more, and never cut when it fits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netlessons.terminal import fit


@given(st.text(max_size=200), st.integers(0, 150))
def test_a_line_fits_and_says_where_it_was_cut(text, columns):
    shown = fit(text, columns)
    if len(text) <= columns:
        assert shown == text
    else:
        assert len(shown) == max(columns, 1) and shown.endswith("…") and text.startswith(shown[:-1])


@given(st.text(max_size=200))
def test_without_a_terminal_nothing_is_cut(text):
    assert fit(text, None) == text

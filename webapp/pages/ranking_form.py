"""A ranking as the form without JavaScript sends it: one select per place (rank_1 ..
rank_K, best first; templates/_partials/respond_ranking.html)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from webapp.pages.forms import form_number
from webapp.questions.ranking import OPTIONS_MAX


def order_in(form: MultiDict[str, str]) -> list[object]:
    """The places sent, in order, stopping at the first one missing: each an option id, or
    the text as sent (too long cut) so that the ranking's check names the place at fault."""
    order: list[object] = []
    for place in range(1, OPTIONS_MAX + 2):  # one past the most: too many is still a 422
        raw = form.get(f"rank_{place}")
        if raw is None:
            break
        number = form_number(raw)
        order.append(number if number is not None else raw[:12])
    return order

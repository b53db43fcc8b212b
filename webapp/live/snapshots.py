"""Builds a poll's live messages: once per change, per format and visibility, for all viewers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jinja2 import BaseLoader, Environment

from webapp.live.hub import Format, Messages, Snapshot
from webapp.polls import load_row
from webapp.results import Results, audience_sees, present, tally, visible_to, voters_among
from webapp.tables import ResultsVisibility


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _time(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with Z, as the JSON API writes it."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def results_message(results: Results) -> str:
    return _json(
        {
            "type": "results",
            "poll_id": results.poll_id,
            "seq": results.seq,
            "options": [{"id": o.id, "votes": o.votes} for o in results.options],
            "total_votes": results.total_votes,
            "voters": results.voters,
            "closed": results.closed,
            "visible": results.visible,
            "responses": results.responses,
            "audience_sees": results.audience_sees,
        }
    )


def poll_message(row: dict[str, Any], results: Results) -> str:
    closed_at = _time(row["closed_at"])
    return _json(
        {
            "type": "poll",
            "poll_id": row["id"],
            "seq": results.seq,
            "question": row["question"],
            "is_published": row["is_published"],
            "allows_multiple": row["allows_multiple"],
            "voting": row["voting"],
            "allows_guests": row["voting"] == "guests",
            "results_visibility": row["results_visibility"],
            "results_hidden": row["results_hidden"],
            "closed": closed_at is not None,
            "closed_at": closed_at,
            "updated_at": _time(row["updated_at"]),
            "options": [{"id": option.id, "text": option.text} for option in results.options],
        }
    )


class SnapshotBuilder(Messages):
    """Loads a poll once per change and renders every variant its viewers may need."""

    def __init__(self, loader: BaseLoader) -> None:
        # A plain (synchronous) environment over the app's templates: partials pushed live
        # use no request globals, and the hub renders outside any request.
        self._templates = Environment(loader=loader, autoescape=True)

    def _render(self, name: str, **context: Any) -> str:
        return self._templates.get_template(name).render(**context)

    async def load(self, poll_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        row = await load_row(poll_id)
        counts = await tally(poll_id) if row else None
        if row is None or counts is None:
            return None
        depends_on_votes = (
            row["results_visibility"] == ResultsVisibility.after_vote and not row["results_hidden"]
        )
        voted = await voters_among(poll_id, user_ids) if depends_on_votes else frozenset()
        public = audience_sees(row)
        shown, withheld = present(counts, True, public), present(counts, False, public)
        return Snapshot(
            seq=counts.seq,
            poll_version=f"{row['updated_at'].isoformat()}|{row['closed_at']}",
            results={
                ("json", True): results_message(shown),
                ("json", False): results_message(withheld),
                ("html", True): self._render("_partials/results.html", results=shown, poll=row),
                ("html", False): self._render("_partials/results.html", results=withheld, poll=row),
            },
            poll={
                "json": poll_message(row, shown),
                "html": self._render("_partials/status.html", poll=row),
            },
            can_see=lambda user_id: visible_to(row, user_id, user_id in voted),
            checked=user_ids if depends_on_votes else None,
        )

    def viewers(self, fmt: Format, count: int) -> str:
        if fmt == "html":
            return self._render("_partials/viewers.html", count=count)
        return _json({"type": "viewers", "count": count})

    def deleted(self, fmt: Format) -> str:
        if fmt == "html":
            return self._render("_partials/status.html", poll=None)
        return _json({"type": "deleted"})

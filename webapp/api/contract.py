"""The API contract: every status an operation can answer is in /openapi.json.

quart-schema documents the successes declared with `validate_response`; this provider adds the
problems (RFC 9457, `application/problem+json`), some derived from the operation itself and
the rest declared on the handler with `@problems(...)`:

- every operation: 503 (the database is unreachable);
- a path parameter: 404 (no such resource, or an id that is not canonical decimal);
- a JSON body: 400 (not UTF-8, not JSON, nested too deeply), 413 (over the size limit),
  415 (not sent as JSON) and 422 (fails validation, with the fields named);
- a query string: 422;
- a bearer token required: 401;
- an `Idempotency-Key` header (declared with `@idempotent`): the header itself, and 400 (a
  malformed key), 409 (its first request is still in flight) and 422 (used for another
  request);
- entity tags (declared with `@conditional`): `If-None-Match`, the `ETag` header and 304.

Path ids are documented as the integers the `id` converter matches (1 to 2**31-1).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import BaseConverter, Rule

from webapp import idempotency
from webapp.routing import MAX_ID, IdConverter

F = TypeVar("F", bound=Callable[..., Any])

PROBLEMS_ATTRIBUTE = "_livepolls_problems"
IDEMPOTENT_ATTRIBUTE = "_livepolls_idempotent"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: what went wrong, and for 422 which fields.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
WHY = {
    400: "The body is not valid UTF-8 or JSON, or nests too deeply.",
    401: "No valid bearer token: missing where one is required, or invalid, expired or revoked.",
    403: "Signed in, but not allowed to do this.",
    404: "No such resource (or not visible to you).",
    409: "Conflicts with the resource's current state.",
    413: "The body is larger than the server accepts.",
    415: "The body was not sent as JSON.",
    422: "The request is well-formed but not valid: `errors` names each field.",
    429: "Too many requests: wait for `Retry-After` seconds.",
    503: "The database is unreachable: try again after `Retry-After` seconds.",
}
IDEMPOTENT_WHY = {
    400: "The body is not valid UTF-8 or JSON, or nests too deeply; or the `Idempotency-Key`"
    " header is malformed.",
    409: "Conflicts with the resource's current state; or the first request with this"
    " `Idempotency-Key` is still in flight: retry it in a moment.",
    422: "The request is well-formed but not valid: `errors` names each field (or the"
    " `Idempotency-Key` header, already used for another request).",
}
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes retries safe: a request with a key already answered gets that first answer"
        " again (`Idempotent-Replayed: true`) and counts nothing. 1 to 255 visible ASCII"
        ' characters, bare or as a structured-field string ("..."); kept for 24 hours,'
        " per user."
    ),
    "schema": {"type": "string", "pattern": idempotency.PATTERN},
}
REPLAYED_HEADER = {
    "description": "`true` when this is the stored answer to an earlier request with the key.",
    "schema": {"type": "string", "enum": ["true"]},
}


CONDITIONAL_ATTRIBUTE = "_livepolls_conditional"
IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of the copy you hold: unchanged, the answer is a 304.",
    "schema": {"type": "string"},
}
ETAG_HEADER = {
    "description": "This answer's entity tag: send it back in `If-None-Match` to revalidate.",
    "schema": {"type": "string"},
}


def conditional(handler: F) -> F:
    """Declare that a handler answers with an `ETag` and honours `If-None-Match` (304)."""
    setattr(handler, CONDITIONAL_ATTRIBUTE, True)
    return handler


MEDIA_ATTRIBUTE = "_livepolls_media"


def answers_with(media_type: str, description: str, schema: dict[str, Any]) -> Callable[[F], F]:
    """Declare a handler's 200 in a media type quart-schema cannot validate (a CSV file)."""

    def decorate(handler: F) -> F:
        setattr(handler, MEDIA_ATTRIBUTE, (media_type, description, schema))
        return handler

    return decorate


def problems(*statuses: int) -> Callable[[F], F]:
    """Declare the problem statuses a handler can answer beyond those derived from its route,
    body, query string and security."""

    def decorate(handler: F) -> F:
        setattr(handler, PROBLEMS_ATTRIBUTE, frozenset(statuses))
        return handler

    return decorate


def idempotent(handler: F) -> F:
    """Declare that a handler takes an `Idempotency-Key` header (webapp/idempotency.py)."""
    setattr(handler, IDEMPOTENT_ATTRIBUTE, True)
    return handler


def problem_response(status: int, keyed: bool = False) -> dict[str, Any]:
    """A problem status; `keyed`: of an operation that takes an Idempotency-Key."""
    why = {**WHY, **IDEMPOTENT_WHY} if keyed else WHY
    response: dict[str, Any] = {
        "description": why.get(status, HTTPStatus(status).phrase),
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }
    if status in (429, 503) or (keyed and status == 409):  # 409: a key still in flight
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def derived_statuses(operation: dict[str, Any]) -> set[int]:
    statuses = {503}
    parameters = operation.get("parameters", [])
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.add(404)
    if any(parameter["in"] == "query" for parameter in parameters):
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if operation.get("security"):
        statuses.add(401)
    return statuses


def _replayable(responses: dict[Any, Any], status: int) -> None:
    """A success may be the replay of an earlier one: it says so in a header."""
    response = dict(responses[status])
    response["headers"] = {
        **response.get("headers", {}),
        idempotency.REPLAYED_HEADER: REPLAYED_HEADER,
    }
    responses[status] = response


class ContractProvider(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        spec = super().schema()
        spec["components"]["schemas"]["Problem"] = PROBLEM_SCHEMA
        return spec

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        declared: frozenset[int] = getattr(view, PROBLEMS_ATTRIBUTE, frozenset())
        keyed = getattr(view, IDEMPOTENT_ATTRIBUTE, False)
        for operations in paths.values():
            for method, operation in operations.items():
                if keyed:
                    parameters = operation.setdefault("parameters", [])
                    parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
                    declared |= {400, 409, 422}
                responses = dict(operation["responses"])
                media = getattr(view, MEDIA_ATTRIBUTE, None)
                if media is not None:
                    media_type, description, schema = media
                    content = {media_type: {"schema": schema}}
                    responses[200] = {"description": description, "content": content}
                for status in sorted(derived_statuses(operation) | declared):
                    responses[status] = problem_response(status, keyed)
                if method == "delete" and not responses.keys() & {200, 201, 204}:
                    responses[204] = {"description": "Done: nothing to send back."}
                if keyed:
                    for status in (200, 201, 204):
                        if status in responses:
                            _replayable(responses, status)
                if getattr(view, CONDITIONAL_ATTRIBUTE, False):
                    operation.setdefault("parameters", []).append(dict(IF_NONE_MATCH_PARAMETER))
                    ok = dict(responses[200])
                    ok["headers"] = {**ok.get("headers", {}), "ETag": ETAG_HEADER}
                    responses[200] = ok
                    responses[304] = {
                        "description": "Not modified: the copy you hold is current.",
                        "headers": {"ETag": ETAG_HEADER},
                    }
                operation["responses"] = responses
        return paths, components

    def build_request_body(self, model: Any, mimetype: Any) -> tuple[dict[str, Any], dict]:
        """A body is required wherever one is read (without one, the answer is a 415)."""
        body, components = super().build_request_body(model, mimetype)
        body["required"] = True
        return body, components

    def build_querystring_parameters(self, model: Any) -> tuple[list[dict[str, Any]], dict]:
        """A query string has no null: a parameter is sent or left out."""
        parameters, components = super().build_querystring_parameters(model)
        for parameter in parameters:
            schema = parameter["schema"]
            if schema.get("default", 0) is None:
                del schema["default"]
            choices = [choice for choice in schema.pop("anyOf", []) if choice != {"type": "null"}]
            if len(choices) == 1:
                schema.update(choices[0])
            elif choices:
                schema["anyOf"] = choices
        return parameters, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IdConverter):
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return parameter

"""The contract run's configuration: every check on, except the exceptions the file names.

schemathesis reads tests/contract/schemathesis.toml as test_contract.py runs it. A check
named on the command line (`--checks all`) would switch the exceptions back on, and a
mistyped operation name would silently except nothing; both fail here.
"""

from __future__ import annotations

import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from tests.contract.test_contract import HERE, OPTIONS

EXCEPTED = {
    ("GET", "/api/v1/polls/{poll_id}/votes/me"): {"use_after_free"},
    ("POST", "/api/v1/polls/{poll_id}/invite-codes/redeem"): {"ensure_resource_availability"},
    ("GET", "/api/v1/polls/{poll_id}"): set(),
}


def _schema() -> schemathesis.BaseSchema:
    config = SchemathesisConfig.from_path(str(HERE / "schemathesis.toml"))
    parameter = {"name": "poll_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    paths: dict[str, dict[str, object]] = {}
    for method, path in EXCEPTED:
        operation = {"parameters": [parameter], "responses": {"200": {"description": "ok"}}}
        paths.setdefault(path, {})[method.lower()] = operation
    spec = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": paths}
    return schemathesis.openapi.from_dict(spec, config=config)


def test_every_check_runs_but_the_named_exceptions() -> None:
    load_all_checks()
    names = {check.__name__ for check in CHECKS.get_all() if not isinstance(check, type)}
    assert {"use_after_free", "ensure_resource_availability", "not_a_server_error"} <= names
    schema = _schema()
    seen = set()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        key = (operation.method.upper(), operation.path)
        seen.add(key)
        for phase in ("coverage", "fuzzing", "stateful"):
            checks = schema.config.checks_config_for(operation=operation, phase=phase)
            off = {name for name in names if not checks.get_by_name(name=name).enabled}
            assert off == EXCEPTED[key], (key, phase, off)
    assert seen == set(EXCEPTED)


def test_the_run_names_no_checks_on_its_command_line() -> None:
    assert not any(option.startswith(("--checks", "-c", "--exclude-checks")) for option in OPTIONS)

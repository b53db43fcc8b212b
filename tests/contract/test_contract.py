"""The API keeps its OpenAPI contract: schemathesis against a real server, on this database.

Every check schemathesis has runs over every operation of /openapi.json (examples from the
coverage phase, fuzzing, then stateful sequences that follow the links between operations):
no server error, no status the spec does not declare, no response off its schema, no
schema-valid request refused and no schema-invalid one accepted. The exceptions, each a rule
JSON Schema cannot state, are in tests/contract/schemathesis.toml and tests/contract/hooks.py.

Every check is on by default; the run names none on its command line, since `--checks`
there overrides the per-operation exceptions of the config file (test_contract_config.py
holds both facts). The run is seeded, on one worker: with two, CPython 3.11.7's
`ast.parse` (which Hypothesis calls to describe the filters schemathesis builds) now and
then raised "SystemError: AST constructor recursion depth mismatch" in a worker thread,
and the run failed on a runtime error that was none of the API's. LIVEPOLLS_CONTRACT_SEED and
LIVEPOLLS_CONTRACT_EXAMPLES explore other cases (the seed of a failing run is in its output).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from tests.live.servers import ROOT, running_server

HERE = Path(__file__).resolve().parent
EMAIL = "contract@example.com"
PASSWORD = "contract password 1"
SEED = os.environ.get("LIVEPOLLS_CONTRACT_SEED", "20261201")
EXAMPLES = os.environ.get("LIVEPOLLS_CONTRACT_EXAMPLES", "100")
RUN_TIMEOUT = 900.0
OPTIONS = ("--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1", "--request-timeout", "30")


async def test_the_api_keeps_its_openapi_contract() -> None:
    async with running_server() as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            account = {"email": EMAIL, "password": PASSWORD, "name": "Contract"}
            created = await http.post("/api/v1/users", json=account)
            assert created.status_code == 201, created.text
        env = dict(os.environ)
        env.update(
            {
                "LIVEPOLLS_CONTRACT_URL": server.base_url,
                "LIVEPOLLS_CONTRACT_EMAIL": EMAIL,
                "LIVEPOLLS_CONTRACT_PASSWORD": PASSWORD,
                "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
                "PYTHONPATH": str(ROOT),
                "NO_COLOR": "1",
            }
        )
        run = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{server.base_url}/openapi.json",
            *OPTIONS,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(run.communicate(), RUN_TIMEOUT)
        report = output.decode(errors="replace")
        assert run.returncode == 0, report
        assert " passed" in report and "failure" not in report.split("SUMMARY")[-1], report
        assert "Traceback" not in server.log(last=1_000_000), server.log()

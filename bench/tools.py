"""The harness's own tools (installed when missing), the machine, and the versions under test."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import seed

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_tools(install: bool) -> None:
    """Install the harness's own extras when they are missing (or say what is missing)."""
    missing_py = [m for m in ("uvicorn", "uvloop", "httptools", "websockets") if not _has(m)]
    if missing_py or not _py_spy():
        _install(
            install,
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")],
            "Python extras",
        )
    if shutil.which("node") is None:
        _install(install, ["apt-get", "install", "-y", "-q", "nodejs", "npm"], "Node.js")
    if not (BENCH / "node_modules" / "ws" / "package.json").exists():
        _install(install, ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund"], "ws")
    if shutil.which("wrk") is None:
        if install and shutil.which("apt-get"):
            subprocess.run(["apt-get", "update", "-q"], check=False)
        _install(install, ["apt-get", "install", "-y", "-q", "wrk"], "wrk")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


def _install(install: bool, command: list[str], what: str) -> None:
    if not install:
        raise SystemExit(f"missing {what}: run {' '.join(command)} (or drop --no-install)")
    log(f"installing {what}: {' '.join(command)}")
    subprocess.run(command, check=True, timeout=900)


def raise_open_files() -> int:
    """Raise the soft limit on open files to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")
    mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().split("\n")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "load_start": os.getloadavg(),
    }


def versions(seeded: seed.Seeded) -> dict[str, str]:
    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    def out(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
            return (done.stdout or done.stderr).strip().split("\n")[0]
        except OSError:
            return "not installed"

    ws_lock = json.loads((BENCH / "package-lock.json").read_text())
    commit = out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = out(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "webapp", "piccolo_migrations"]
    )
    return {
        "livepolls (git)": commit + (" with uncommitted changes" if dirty else ""),
        "Python": platform.python_version(),
        "Hypercorn": pkg("hypercorn"),
        "Quart": pkg("quart"),
        "Piccolo": pkg("piccolo"),
        "asyncpg": pkg("asyncpg"),
        "wsproto": pkg("wsproto"),
        "Uvicorn": pkg("uvicorn"),
        "uvloop": pkg("uvloop"),
        "httptools": pkg("httptools"),
        "websockets": pkg("websockets"),
        "PostgreSQL": seed.server_version(seeded),
        "Node": out(["node", "--version"]),
        "ws (npm)": ws_lock["packages"]["node_modules/ws"]["version"],
        "wrk": (out(["wrk", "-v"]).split() + ["?", "?"])[1],
        "py-spy": out([_py_spy() or "py-spy", "--version"]).split()[-1],
    }

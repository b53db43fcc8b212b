"""`livepolls serve` that can report where its memory goes, for bench/memory.py.

    BENCH_MEMPROBE_DIR=/tmp/x python -m bench.memprobe serve --port P --workers 1
    BENCH_MEMPROBE_DIR=/tmp/x BENCH_MEMPROBE_TRACE=1 python -m bench.memprobe serve ...
    kill -USR1 <worker pid>      # writes /tmp/x/<pid>-<n>.json (and .snapshot with tracing)

Nothing in webapp/ changes: each worker (the lone process with one worker; with several,
every spawned worker, which imports this module first as `__mp_main__`, as
bench/hypercorn_parts.py does) installs a SIGUSR1 handler that writes, in that process:

- the RSS and glibc's `mallinfo2` (bytes malloc hands out, and the free bytes it keeps);
- pymalloc's arenas (`sys._debugmallocstats`, parsed: arenas, bytes in used blocks);
- the objects the garbage collector tracks, counted and sized (`sys.getsizeof`) by type,
  and the untracked objects they refer to directly (bytes, str, int...), by type as well;
- with BENCH_MEMPROBE_TRACE=1 (tracemalloc started before the app is imported, with
  BENCH_MEMPROBE_FRAMES frames, default 1), the traced total, and the snapshot itself,
  which the harness compares with an earlier one;
- with BENCH_MEMPROBE_GC=default (or t0,t1,t2), the garbage collector's thresholds instead
  of webapp/server.py's (and nothing frozen), to measure what those settings do;
- with BENCH_MEMPROBE_OWNERS=type,type... (names as in the census, e.g. builtins.dict), for
  objects of those types created since the first report, what refers to them (a sample of
  each, by the referrer's type and attribute): how the census's numbers were traced to
  their owners.

Tracing costs memory of its own, so RSS figures come from runs without it. The report runs
in the signal handler, between two bytecodes of whatever the event loop was doing.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import signal
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from types import (
    AsyncGeneratorType,
    CoroutineType,
    FrameType,
    GeneratorType,
    MemberDescriptorType,
)
from typing import Any

_count = 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> dict[str, int]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {field[0]: int(getattr(info, field[0])) for field in _MallInfo2._fields_}


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _pymalloc() -> dict[str, int]:
    """Arenas and used bytes from `sys._debugmallocstats` (it writes to the C stderr)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    found: dict[str, int] = {}
    for key, pattern in (
        ("arenas_allocated_current", r"# arenas allocated current\s*=\s*([\d,]+)"),
        ("arenas_highwater", r"# arenas highwater mark\s*=\s*([\d,]+)"),
        ("bytes_in_arenas", r"(\d[\d,]*) arenas \* \d+ bytes/arena\s*=\s*([\d,]+)"),
        ("bytes_in_used_blocks", r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
        ("bytes_in_free_blocks", r"# bytes in available blocks\s*=\s*([\d,]+)"),
        ("bytes_in_free_pools", r"(\d+) unused pools \* \d+ bytes\s*=\s*([\d,]+)"),
    ):
        match = re.search(pattern, text)
        if match:
            found[key] = int(match.groups()[-1].replace(",", ""))
    return found


def _objects() -> dict[str, Any]:
    """Count and shallow size, by type, of the objects the collector tracks and of the
    untracked ones they refer to directly (each counted once)."""
    tracked = gc.get_objects()
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    seen: set[int] = set()
    for obj in tracked:
        name = _type_name(obj)
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    for obj in tracked:
        for ref in gc.get_referents(obj):
            if gc.is_tracked(ref) or id(ref) in seen:
                continue
            seen.add(id(ref))
            name = "untracked " + _type_name(ref)
            counts[name] += 1
            sizes[name] += sys.getsizeof(ref)
    del tracked
    return {"counts": dict(counts), "sizes": dict(sizes)}


_CODE = {CoroutineType: "cr_code", AsyncGeneratorType: "ag_code", GeneratorType: "gi_code"}


def _type_name(obj: object) -> str:
    cls = type(obj)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if cls in _CODE:  # a coroutine (or generator): worth as much as its frame
        return f"{name} {getattr(obj, _CODE[cls]).co_qualname}"
    return name


_baseline: set[int] = set()


def _describe(referrer: object, target: object) -> str:
    """Who holds `target`: the referrer's type, and for an instance the attribute."""
    name = _type_name(referrer)
    if isinstance(referrer, dict):
        for key, value in referrer.items():
            if value is target:
                return f"{name}[{key!r}]"
        return name
    for cls in type(referrer).__mro__:  # slots only: a property could run code
        for attr, descriptor in list(vars(cls).items()):
            if isinstance(descriptor, MemberDescriptorType) and (
                getattr(referrer, attr, None) is target
            ):
                return f"{name}.{attr}"
    instance_dict = getattr(referrer, "__dict__", None)
    if isinstance(instance_dict, dict):
        for key, value in instance_dict.items():
            if value is target:
                return f"{name}.{key}"
    return name


def _owners(kinds: list[str], sample: int = 400) -> dict[str, dict[str, int]]:
    """For objects of the given types created since the first report (a sample of each):
    what refers to them, by referrer type (and attribute), counted."""
    found: dict[str, dict[str, int]] = {}
    new = [obj for obj in gc.get_objects() if id(obj) not in _baseline]
    for kind in kinds:
        chosen = [obj for obj in new if _type_name(obj) == kind][:sample]
        tally: Counter[str] = Counter()
        for obj in chosen:
            for referrer in gc.get_referrers(obj):
                if referrer is new or referrer is chosen:
                    continue
                tally[_describe(referrer, obj)] += 1
        found[kind] = {"sampled": len(chosen), **dict(tally.most_common(25))}
    return found


def dump(directory: Path) -> Path:
    """Write this process's figures (and its tracemalloc snapshot, when tracing)."""
    global _count
    _count += 1
    stem = directory / f"{os.getpid()}-{_count}"
    figures: dict[str, Any] = {"pid": os.getpid(), "n": _count, "rss": _rss()}
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(stem.with_suffix(".snapshot")))
        figures["traced"] = tracemalloc.get_traced_memory()[0]
        figures["tracemalloc_overhead"] = tracemalloc.get_tracemalloc_memory()
    figures["objects"] = _objects()
    kinds = [k for k in os.environ.get("BENCH_MEMPROBE_OWNERS", "").split(",") if k]
    if kinds and _baseline:
        figures["owners"] = _owners(kinds)
    if kinds and not _baseline:
        _baseline.update(id(obj) for obj in gc.get_objects())
    figures["gc"] = {"counts": gc.get_count(), "frozen": gc.get_freeze_count()}
    figures["pymalloc"] = _pymalloc()
    figures["mallinfo"] = _mallinfo()
    path = stem.with_suffix(".json")
    partial = stem.with_suffix(".partial")
    partial.write_text(json.dumps(figures))
    partial.replace(path)  # whole or not at all: the harness waits for this name
    return path


def _collector_settings(thresholds: str) -> None:
    """Replace the server's garbage collector settings (webapp/server.py) with Python's own
    ("default": thresholds 700, 10, 10 and nothing frozen) or the thresholds given."""
    from webapp import server

    async def settle() -> None:
        if thresholds == "default":
            gc.set_threshold(700, 10, 10)
        else:
            gc.set_threshold(*(int(t) for t in thresholds.split(",")))

    server._settle_garbage_collector = settle


def install() -> None:
    directory = Path(os.environ["BENCH_MEMPROBE_DIR"])
    if os.environ.get("BENCH_MEMPROBE_TRACE") == "1" and not tracemalloc.is_tracing():
        tracemalloc.start(int(os.environ.get("BENCH_MEMPROBE_FRAMES", "1")))
    if os.environ.get("BENCH_MEMPROBE_GC"):
        _collector_settings(os.environ["BENCH_MEMPROBE_GC"])

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        dump(directory)

    signal.signal(signal.SIGUSR1, on_signal)


def main() -> None:
    from webapp import cli

    argv = sys.argv[1:]
    workers = argv[argv.index("--workers") + 1] if "--workers" in argv else "1"
    if workers == "1":  # the lone process is the worker
        install()
    else:  # the supervisor: a report from it would say nothing; ignore the signal
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    cli.main(argv)


if __name__ == "__mp_main__":  # a spawned worker of `serve --workers N`
    install()
elif __name__ == "__main__":
    main()

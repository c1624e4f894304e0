"""Sweep of the whole model to convergence: polysemantic counts over a grid of m (and n), many seeds, on Dask.

Default: the paper's grid (Lecomte et al.), n = 256 and m = 256, 512, ..., 4096 (m = 256 k, k = 1..16),
20 seeds per point, lam = 0.1 / sqrt(m) (the setup chapter's regime lam sqrt(m) small), run to
convergence with the fast integrator of `incidental.whole`. Chapter 07 shows the files when present; the
book build never runs this script.

Each run is one call `incidental.whole.run_point(n, m, seed, lam=lam)` (with `--h`/`--h-sparse` if given),
a task on Dask's distributed scheduler: by default a local cluster of one single-threaded worker process
per core (on 127.0.0.1, no dashboard; Dask's memory trimming and profiler off, which cost 30% and a few
percent per run), or an existing cluster with `--scheduler ADDRESS` (its workers need `incidental`
installed; start them single-threaded, `dask worker ADDRESS --nthreads 1`, with MALLOC_TRIM_THRESHOLD_
unset in their config). `--backend pool` makes the same calls in a process pool instead (for comparison:
benchmarks/bench_sweep.py: on 80 runs of the paper grid the local cluster takes 1.01 times the pool's wall time;
its start and stop cost about 2 s, and its workers run with Dask's 20 ms event-loop watchdog, memory and
system monitors slowed down, which otherwise cost about 4% per run). A worker that dies mid-run loses that
run only: the scheduler runs it again on another worker (a run that raises is retried twice; a run that still
fails is reported, and the sweep exits with status 1 so that `--resume` can finish it).

Output (`--out`, JSON Lines, read by `incidental.whole.read_sweep`): the first line holds what defines the
sweep (the integrator settings with the lam rule, the grid, the library version); then one line per
finished run (all of run_point's fields), appended, flushed and fsync'd as the run ends, so an interrupted
sweep loses only its runs in flight; each invocation appends one line {"session": ...} (command, backend,
workers, wall time) when it ends (not if it is killed). `--resume` continues a file: it skips the runs
already in it and refuses a file recorded with other settings, another grid or another library version,
naming the difference. Without `--resume` an existing file is refused (`--overwrite` replaces it). A
progress bar on stderr shows runs done, rate and time left. Examples:

    nice -n 10 .venv/bin/python scripts/sweep_whole.py --out paper.jsonl     # the paper grid, a worker per core
    nice -n 10 .venv/bin/python scripts/sweep_whole.py --out paper.jsonl --resume   # ... after an interruption
    .venv/bin/python scripts/sweep_whole.py --n 64 128 --m 128 256 512 1024 2048 --seeds 20 \
        --out book/data/whole_count_sweep.jsonl
    .venv/bin/python scripts/sweep_whole.py --scheduler tcp://127.0.0.1:8786 --out sweep.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: small matrices, one thread per worker
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
PAPER_M = [256 * k for k in range(1, 17)]
DESCRIPTION = "whole model run to convergence; polysemantic = neurons with >= 2 exactly nonzero weights"
RETRIES = 2  # a run that raises is run again this many times (a dead worker's runs are rescheduled anyway)

WORKER_CONFIG = {  # the local cluster's workers, as fast as the process pool's (measured in bench_sweep.py)
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,  # Dask's default costs ~30% per run
    "distributed.worker.profile.enabled": False,  # the statistical profiler takes the GIL every 10 ms
    "distributed.worker.memory.monitor-interval": "2s",  # the memory monitor polls every 100 ms by default
    "distributed.admin.system-monitor.interval": "2s",  # so does the system monitor, every 500 ms
    "distributed.scheduler.work-stealing": False,  # rebalancing every 100 ms: no use with equal workers
    "distributed.admin.tick.interval": "1s",  # the event loop's watchdog wakes every 20 ms by default
}

Task = tuple[int, int, int, float]  # (n, m, seed, lam): one run, and its key in the file


class SweepError(Exception):
    """A sweep that cannot start (the output file): the message says why."""


def library_version() -> str:
    """The installed version of `incidental` and the git commit of this checkout."""
    from importlib import metadata

    try:
        version = metadata.version("incidental")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # --no-optional-locks: never write .git/index (no lock against a commit)
            ["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "lib"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):  # pragma: no cover
        commit = "unknown"
    return f"{version} ({commit})"


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[256], help="numbers of features (default 256)")
    p.add_argument("--m", type=int, nargs="+", default=PAPER_M, help="numbers of neurons (default 256..4096 by 256)")
    p.add_argument("--seeds", type=int, default=20, help="seeds 0..seeds-1 per point (default 20)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--lam-sqrt-m",
        type=float,
        nargs="+",
        default=[0.1],
        help="lam = this / sqrt(m) (default 0.1); several values: one run set per value",
    )
    g.add_argument("--lam", type=float, default=None, help="one lam for every m instead")
    p.add_argument("--h", type=float, default=None, help="step while dense (default: incidental.whole.SWEEP_SETTINGS)")
    p.add_argument("--h-sparse", type=float, default=None, help="step once sparse")
    p.add_argument("--out", type=Path, default=ROOT / "book" / "data" / "whole_paper_sweep.jsonl")
    f = p.add_mutually_exclusive_group()
    f.add_argument("--resume", action="store_true", help="continue --out: skip its runs (same settings only)")
    f.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--backend", choices=("dask", "pool"), default="dask", help="Dask (default) or a process pool")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: a local cluster)")
    p.add_argument(
        "--workers", type=int, default=None, help=f"local workers or processes (default {cores()}: one per core)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--by-seed",
        action="store_true",
        help="run seed by seed (every point's seed 0, then seed 1, ...), so that a sweep stopped early has the same "
        "seeds at every point; default: largest runs first (the workers end evenly)",
    )
    return p


def plan(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, float], list[Task]]:
    """The sweep's header (what defines it), the settings passed to every run, and its runs, largest first."""
    from incidental import _validate as v
    from incidental.whole import SWEEP_FORMAT, SWEEP_SETTINGS

    for n in args.n:  # every size valid; pairs with m < n are skipped (the model needs m >= n)
        v.size("n", n)
    for m in args.m:
        v.size("m", m)
    if args.seeds < 1:
        raise SweepError(f"--seeds must be at least 1, got {args.seeds}")
    settings = {k: val for k, val in (("h", args.h), ("h_sparse", args.h_sparse)) if val is not None}
    lams = (lambda m: [args.lam]) if args.lam is not None else (lambda m: [c / m**0.5 for c in args.lam_sqrt_m])
    tasks = [(n, m, s, lam) for n in args.n for m in args.m if m >= n for lam in lams(m) for s in range(args.seeds)]
    tasks.sort(key=lambda t: -(t[0] ** 2) * t[1])  # largest first: the workers end evenly
    if args.by_seed:
        tasks.sort(key=lambda t: t[2])  # stable: largest first within a seed
    rule = f"lam = {args.lam}" if args.lam is not None else f"lam = c / sqrt(m), c in {args.lam_sqrt_m}"
    header = {
        "format": SWEEP_FORMAT,
        "description": DESCRIPTION,
        "library_version": library_version(),
        "settings": {**SWEEP_SETTINGS, **settings, "lam_rule": rule},
        "n": args.n,
        "m": args.m,
        "seeds": args.seeds,
    }
    return json.loads(json.dumps(header)), settings, tasks  # as it reads back from the file


def differences(recorded: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """``key: value in the file, value now`` for every key where two headers differ (settings key by key)."""
    out = []
    for key in [*recorded, *(k for k in now if k not in recorded)]:
        a, b = recorded.get(key, "(absent)"), now.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} in the file, {b!r} now")
    return out


def open_output(path: Path, header: dict[str, Any], *, resume: bool, overwrite: bool) -> tuple[IO[str], set[Task]]:
    """The output file, open for appending (its header written if new), and the runs it already holds."""
    from incidental.whole import SWEEP_DERIVED, read_sweep

    if path.exists() and path.stat().st_size > 0 and not overwrite:
        if not resume:
            raise SweepError(f"{path} exists: --resume continues it, --overwrite replaces it")
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):  # a line cut off by a killed writer: drop it before appending
            print(f"{path}: dropping an unfinished last line ({len(data) - cut} bytes)", file=sys.stderr)
            with open(path, "r+b") as f:
                f.truncate(cut)
        if cut > 0:
            try:
                recorded, records = read_sweep(path)
            except (ValueError, KeyError) as e:
                raise SweepError(f"cannot resume {path}: {e}") from None
            recorded = {k: v for k, v in recorded.items() if k not in SWEEP_DERIVED}
            diff = differences(recorded, header)
            if diff:
                raise SweepError(
                    f"cannot resume {path}: it was recorded with other settings or another library version "
                    f"({'; '.join(diff)}); use another --out, or --overwrite to start again"
                )
            return open(path, "a"), {(r["n"], r["m"], r["seed"], r["lam"]) for r in records}
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "w")
    append(f, header)
    return f, set()


def append(f: IO[str], row: dict[str, Any]) -> None:
    """One line, on disk when this returns."""
    f.write(json.dumps(row) + "\n")
    f.flush()
    os.fsync(f.fileno())


class Progress:
    """A plain-text progress bar on a stream: runs done out of the total, rate, time left. On a terminal it
    redraws one line; otherwise it prints a line every ``every`` seconds and at the end."""

    def __init__(self, total: int, done: int = 0, stream: IO[str] | None = None, every: float = 5.0) -> None:
        self.total, self.done, self.new = total, done, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every, self.start, self.last = every, time.perf_counter(), -float("inf")
        self.show(force=True)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.new / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        width = 30
        fill = int(width * self.done / self.total) if self.total else width
        return (
            f"[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} runs, {rate:.2f} runs/s, "
            f"{_duration(left)} left, {_duration(elapsed)} elapsed"
        )

    def show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r" + self.line() + "\033[K")
        elif force or now - self.last >= self.every or self.done == self.total:
            self.stream.write(self.line() + "\n")
        else:
            return
        self.last = now
        self.stream.flush()

    def update(self, k: int = 1) -> None:
        self.done, self.new = self.done + k, self.new + k
        self.show()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan: no rate yet
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _key(t: Task) -> str:
    n, m, seed, lam = t
    return f"run_point-n{n}-m{m}-seed{seed}-lam{lam!r}"


def run_dask(tasks: list[Task], settings: dict[str, float], args: argparse.Namespace, done) -> tuple[int, list[str]]:
    """The runs as tasks on Dask (a local cluster, or ``args.scheduler``); ``done(record)`` as each ends.
    Returns the workers used and the failures."""
    import logging

    import dask
    from distributed import Client, LocalCluster, as_completed
    from incidental.whole import run_point

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        with dask.config.set(WORKER_CONFIG):  # read when each worker's nanny starts (kept for its restarts)
            cluster = LocalCluster(
                n_workers=args.workers or cores(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
    failures = []
    try:
        workers = len(client.nthreads())
        futures = []
        for i, (n, m, seed, lam) in enumerate(tasks):  # earlier tasks first: higher priority
            key, priority = _key((n, m, seed, lam)), len(tasks) - i
            futures.append(
                client.submit(run_point, n, m, seed, lam=lam, **settings, key=key, priority=priority, retries=RETRIES)
            )
        for fut in as_completed(futures):
            if fut.status == "finished":
                done(fut.result())
            elif fut.status == "error":
                failures.append(f"{fut.key}: {fut.exception()!r}")
            else:  # cancelled or lost with the scheduler
                failures.append(f"{fut.key}: {fut.status}")
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return workers, failures


def run_pool(tasks: list[Task], settings: dict[str, float], args: argparse.Namespace, done) -> tuple[int, list[str]]:
    """The same runs in a process pool (the script's former backend, kept to compare)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from incidental.whole import run_point

    workers, failures = args.workers or cores(), []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(run_point, n, m, seed, lam=lam, **settings): (n, m, seed, lam) for n, m, seed, lam in tasks
        }
        for fut in as_completed(futures):
            try:
                rec = fut.result()
            except Exception as e:  # reported; the sweep goes on
                failures.append(f"{_key(futures[fut])}: {e!r}")
            else:
                done(rec)
    return workers, failures


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.scheduler and args.backend != "dask":
        p.error("--scheduler needs --backend dask")
    try:
        header, settings, tasks = plan(args)
        out, recorded = open_output(args.out, header, resume=args.resume, overwrite=args.overwrite)
    except (SweepError, ValueError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    todo = [t for t in tasks if t not in recorded]
    if recorded:
        print(f"{args.out}: {len(tasks) - len(todo)} of {len(tasks)} runs already recorded", file=sys.stderr)
    progress = None if args.quiet else Progress(len(tasks), len(tasks) - len(todo))
    written, cpu = 0, 0.0

    def done(rec: dict[str, Any]) -> None:
        nonlocal written, cpu
        append(out, rec)
        written, cpu = written + 1, cpu + rec["seconds"]
        if progress is not None:
            progress.update()

    start, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    workers, failures, status = 0, [], "interrupted"
    try:
        if todo:
            backend = run_dask if args.backend == "dask" else run_pool
            workers, failures = backend(todo, settings, args, done)
        status = "complete" if not failures else "failed runs"
    finally:
        if progress is not None:
            progress.close()
        wall = time.perf_counter() - start
        session = {
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "backend": args.backend,
            "scheduler": args.scheduler or "local",
            "workers": workers,
            "started": started,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "runs": written,
            "failed": len(failures),
            "status": status,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        }
        append(out, {"session": session})
        out.close()
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    left = len(todo) - written
    print(
        f"{args.out}: {written} runs written, {len(tasks) - left} of {len(tasks)} recorded "
        f"(wall {wall:.0f} s, {cpu:.0f} CPU s, {args.backend}, {workers} workers)"
        + (f"; {left} failed: run again with --resume" if left else "")
    )
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())

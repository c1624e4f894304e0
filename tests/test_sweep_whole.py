"""scripts/sweep_whole.py: sweeps as Dask tasks, recorded line by line (JSON Lines), resumed after a kill with
nothing lost and nothing twice, refused against other settings; and the reader, incidental.whole.read_sweep."""

import importlib.util
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from incidental.whole import SWEEP_FORMAT, read_sweep

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "sweep_whole.py"
GRID = ["--n", "32", "--m", "64", "128", "--seeds", "10", "--lam-sqrt-m", "0.1"]  # 20 runs of about 0.1 s
RUNS = 20
KEYS = ("n", "m", "seed", "lam", "polysemantic")

pytest.importorskip("distributed")


def script():
    spec = importlib.util.spec_from_file_location("sweep_whole", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def run_lines(path: Path) -> list[dict]:
    """The complete run lines of a sweep file as written (no sorting, duplicates kept)."""
    rows = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            row = json.loads(line)
            if "format" not in row and "session" not in row:
                rows.append(row)
    return rows


def values(records: list[dict]) -> dict[tuple, str]:
    """Each run's values by its key, without its timing (``seconds``, the only field that is not computed)."""
    out = {}
    for r in records:
        assert all(k in r for k in KEYS)
        out[(r["n"], r["m"], r["seed"], r["lam"])] = json.dumps({k: v for k, v in r.items() if k != "seconds"})
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted sweep on a local Dask cluster (two workers), then `--resume`, which adds nothing."""
    out = tmp_path_factory.mktemp("sweep") / "reference.jsonl"
    done = sweep(*GRID, "--workers", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    again = sweep(*GRID, "--workers", "2", "--out", str(out), "--resume")
    assert again.returncode == 0, again.stderr
    assert f"{RUNS} of {RUNS} runs already recorded" in again.stderr
    return out


def test_the_issues_command_line_parses_to_its_grid():
    sw = script()
    argv = "--n 64 --m 128 256 512 --seeds 6 --lam-sqrt-m 0.1 --out F".split()
    args = sw.parser().parse_args(argv)
    assert (args.n, args.m, args.seeds, args.lam_sqrt_m, args.out) == ([64], [128, 256, 512], 6, [0.1], Path("F"))
    assert args.backend == "dask" and args.scheduler is None and not args.resume
    header, settings, tasks = sw.plan(args)
    assert settings == {} and header["format"] == SWEEP_FORMAT and header["seeds"] == 6
    assert header["library_version"] == sw.library_version()
    assert sorted(tasks) == sorted((64, m, s, 0.1 / m**0.5) for m in (128, 256, 512) for s in range(6))
    assert [t[1] for t in tasks[:6]] == [512] * 6  # largest first
    assert sw.parser().parse_args(["--backend", "pool", "--scheduler", "tcp://127.0.0.1:8786"]).backend == "pool"


def test_an_uninterrupted_sweep_records_every_run_once(reference):
    header, records = read_sweep(reference)
    lines = reference.read_text().splitlines()
    assert json.loads(lines[0])["format"] == SWEEP_FORMAT and len(run_lines(reference)) == RUNS == len(records)
    assert sorted(values(records)) == sorted((32, m, s, 0.1 / m**0.5) for m in (64, 128) for s in range(10))
    assert [s["status"] for s in header["sessions"]] == ["complete", "complete"]
    assert [s["runs"] for s in header["sessions"]] == [RUNS, 0] and header["sessions"][0]["backend"] == "dask"
    assert header["sessions"][0]["workers"] == 2 and header["wall_seconds"] > 0


def test_a_killed_sweep_resumes_to_the_uninterrupted_records(reference, tmp_path):
    out = tmp_path / "killed.jsonl"
    cmd = [sys.executable, str(SCRIPT), *GRID, "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(run_lines(out)) >= 3:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the script and its cluster's worker processes (one group)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = run_lines(out)
    assert 3 <= len(before) < RUNS, "the sweep ended before it was killed"
    assert "session" not in out.read_text()  # killed: no session line
    if out.read_text().endswith("\n"):
        with open(out, "a") as f:  # as if the kill had cut a line: resume drops it
            f.write('{"n": 32, "m": 128, "se')
    resumed = sweep(*GRID, "--workers", "1", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"{len(before)} of {RUNS} runs already recorded" in resumed.stderr and "unfinished last line" in resumed.stderr
    )
    lines = run_lines(out)
    assert lines[: len(before)] == before  # the recorded lines untouched
    assert len(lines) == RUNS and len(values(lines)) == RUNS  # every run, none twice
    assert values(read_sweep(out)[1]) == values(read_sweep(reference)[1])  # identical records


def test_a_worker_killed_mid_sweep_loses_no_run(reference, tmp_path):
    from distributed import Client, LocalCluster

    out = tmp_path / "worker_killed.jsonl"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        cmd = [sys.executable, str(SCRIPT), *GRID, "--scheduler", cluster.scheduler_address, "--out", str(out)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            killed = None
            deadline = time.monotonic() + 90
            while killed is None and time.monotonic() < deadline and proc.poll() is None:
                if out.exists() and len(run_lines(out)) >= 3:
                    busy = {w: keys for w, keys in client.processing().items() if keys}
                    if busy:
                        worker, keys = next(iter(busy.items()))
                        pid = client.run(os.getpid, workers=[worker])[worker]
                        os.kill(pid, signal.SIGKILL)  # a worker process of this test's cluster, mid-run
                        killed = keys
                time.sleep(0.01)
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert killed, "no worker was busy before the sweep ended"
    assert proc.returncode == 0, stderr
    records = run_lines(out)
    assert len(records) == RUNS and values(records) == values(read_sweep(reference)[1])


def test_resume_refuses_other_settings_and_another_library_version(reference, tmp_path):
    out = tmp_path / "other.jsonl"
    out.write_text(reference.read_text())
    other = sweep(*GRID[:-1], "0.2", "--h", "0.1", "--out", str(out), "--resume")
    assert other.returncode == 2 and "cannot resume" in other.stderr
    assert "settings.h: 0.25 in the file, 0.1 now" in other.stderr
    assert "settings.lam_rule: 'lam = c / sqrt(m), c in [0.1]' in the file, 'lam = c / sqrt(m), c in [0.2]' now" in (
        other.stderr
    )
    more = sweep(*GRID[:-3], "12", "--out", str(out), "--resume")
    assert more.returncode == 2 and "seeds: 10 in the file, 12 now" in more.stderr
    lines = out.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    out.write_text(json.dumps({**header, "library_version": "0.0.1 (abcdef0)"}) + "\n" + "".join(lines[1:]))
    old = sweep(*GRID, "--out", str(out), "--resume", "--backend", "pool")
    assert old.returncode == 2 and "library_version: '0.0.1 (abcdef0)' in the file" in old.stderr
    plain = sweep(*GRID, "--out", str(out), "--backend", "pool")  # no --resume: an existing file is not replaced
    assert plain.returncode == 2 and "--resume continues it" in plain.stderr
    assert out.read_text().splitlines(keepends=True)[1:] == lines[1:]  # untouched by every refusal


def test_read_sweep_sorts_drops_a_cut_line_and_refuses_duplicates(tmp_path):
    header = {"format": SWEEP_FORMAT, "seeds": 2}
    run = {"n": 4, "m": 8, "lam": 0.1, "polysemantic": 1, "seconds": 0.5, "rank_mean": math.nan}
    rows = [header, {**run, "seed": 1}, {**run, "seed": 0}, {"session": {"wall_seconds": 2.0}}]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"n": 4, "m"')
    got, records = read_sweep(path)
    assert [r["seed"] for r in records] == [0, 1] and math.isnan(records[0]["rank_mean"])
    assert got["seeds"] == 2 and got["wall_seconds"] == 2.0 and got["cpu_seconds"] == 1.0
    assert got["sessions"] == [{"wall_seconds": 2.0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, {**run, "seed": 1}]))
    with pytest.raises(ValueError, match="seed=1.*recorded twice"):
        read_sweep(path)
    path.write_text(json.dumps(run) + "\n")
    with pytest.raises(ValueError, match="not a sweep file"):
        read_sweep(path)
    path.write_text(json.dumps(header) + "\n{broken\n" + json.dumps({**run, "seed": 0}) + "\n")
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_sweep(path)


@pytest.mark.parametrize("name", ["whole_lam_sweep.jsonl", "whole_count_sweep.jsonl"])
def test_the_books_recorded_sweeps_read_back(name):
    path = ROOT / "book" / "data" / name
    if not path.exists():
        pytest.skip(f"{name} is not recorded")
    header, records = read_sweep(path)
    grid = {(r["n"], r["m"], r["seed"], round(r["lam_sqrt_m"], 9)) for r in records}
    assert len(grid) == len(records) and header["seeds"] == 1 + max(r["seed"] for r in records)
    assert set(header["n"]) == {r["n"] for r in records} and header["wall_seconds"] > 0


def test_progress_bar_shows_runs_rate_and_time_left():
    stream = io.StringIO()
    bar = script().Progress(10, done=2, stream=stream, every=0.0)
    time.sleep(0.01)
    bar.update(3)
    bar.close()
    last = stream.getvalue().splitlines()[-1]
    assert "5/10 runs" in last and "runs/s" in last and "left" in last and "elapsed" in last


def test_read_recorded_reads_a_sweep_a_json_document_or_nothing(tmp_path):
    from incidental.whole import read_recorded

    book_data = Path(__file__).resolve().parents[1] / "book" / "data"
    sweep = read_recorded(book_data / "whole_lam_sweep.jsonl")
    assert sweep["runs"] and {"n", "m", "seed", "lam", "polysemantic"} <= set(sweep["runs"][0])
    assert read_recorded(book_data / "whole_benchmark.json")["n"] == 256
    assert read_recorded(tmp_path / "absent.jsonl") is None

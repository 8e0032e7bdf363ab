"""Start-up: how long a command takes when it has little to do, as from cron.

    python bench/startup.py [--articles 10000] [--checkout PATH]

Prints the median of 9 runs of `finews --help` and of `finews build` with nothing to do on
an archive of N generated articles, beside `python -c pass` measured in the same run.
Bytecode caching is on, as on a user's machine (this VM's shells set
PYTHONDONTWRITEBYTECODE, which makes every import compile its module again).
``--checkout`` runs another finews source tree (e.g. an older commit) instead of this one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import articles
from bench.machine import cpu_check

HERE = Path(__file__).resolve().parent.parent


def _timed(command: list[str], cwd: Path, env: dict[str, str], runs: int = 9) -> float:
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)  # warm, and pyc
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--checkout", type=Path, default=HERE, help="the finews tree to run")
    args = parser.parse_args()
    print(cpu_check())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(args.checkout.resolve())
    finews = [sys.executable, "-m", "finews"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        from finews.store import open_store

        with open_store(str(root / "finews.db")) as store:
            store.upsert(articles(args.articles, seed=1))
        subprocess.run([*finews, "build", "--no-search"], cwd=root, env=env, capture_output=True, check=True)
        baseline = _timed([sys.executable, "-c", "pass"], root, env)
        help_time = _timed([*finews, "--help"], root, env)
        build_time = _timed([*finews, "build", "--no-search"], root, env)
    print(f"checkout                          {args.checkout}")
    print(f"python -c pass (baseline)         {baseline * 1000:.0f} ms")
    print(f"finews --help                     {help_time * 1000:.0f} ms")
    print(f"finews build, nothing to do ({args.articles:,})  {build_time * 1000:.0f} ms")


if __name__ == "__main__":
    main()

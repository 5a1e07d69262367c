"""``make bench``: runs every ``bench_*.py`` scenario, prints their JSON lines and a Markdown table.

Each scenario runs in its own process (so one cannot warm another's caches) and prints one JSON line
with its rate, the reference measured in the same run, and the ratio. Results are also written to
``bench/results/latest.json`` for the README.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scenarios = sorted(HERE.glob("bench_*.py"))
    if len(sys.argv) > 1:
        scenarios = [p for p in scenarios if any(name in p.stem for name in sys.argv[1:])]
    results = []
    for script in scenarios:
        done = subprocess.run(
            [sys.executable, script.name], cwd=HERE, capture_output=True, text=True, check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            print(f"{script.stem} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        for line in lines:
            print(line, flush=True)
            results.append(json.loads(line))
    # Which interpreter: a distribution's (PGO-built) and a default pyenv build differ by about a tenth.
    python = f"Python {platform.python_version()} ({sys._base_executable})"  # type: ignore[attr-defined]
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}, {python}"
    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {machine}\n")
    print("| scenario | rate | reference | reference rate | ratio |")
    print("|---|---|---|---|---|")
    for r in results:
        rate = r.get("msgs_per_s") or r.get("mb_per_s")
        unit = "msg/s" if "msgs_per_s" in r else "MB/s"
        ref = r.get("reference_msgs_per_s") or r.get("reference_mb_per_s")
        print(f"| {r['scenario']} | {rate} {unit} | {r.get('reference', '')} | {ref} | {r.get('ratio')} |")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps({"date": datetime.now(UTC).isoformat(), "machine": machine, "results": results}, indent=2)
    )
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())

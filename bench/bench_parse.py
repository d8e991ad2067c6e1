"""DAG parse cost: each DAG file against a trivial one-task DAG, in fresh processes, same run.

Each measurement is a new interpreter that first imports airflow.sdk (the cost every DAG file
shares), then times executing the DAG file, as the dag-processor does. Median of REPEAT runs.
Goal (issue 3): no launch DAG file costs more than 3x the trivial DAG.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 5
TRIVIAL = '''
import pendulum
from airflow.sdk import dag, task

@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
def trivial():
    @task
    def one() -> int:
        return 1
    one()

trivial()
'''
PROBE = """
import time, runpy, sys
sys.path.insert(0, {root!r})
from airflow.sdk import dag, task, DAG, Param, Asset  # shared by every DAG file
from airflow.providers.standard.operators.hitl import ApprovalOperator  # noqa: F401 - shared provider import
start = time.perf_counter()
runpy.run_path({path!r})
print(time.perf_counter() - start)
"""


def parse_seconds(path: Path) -> float:
    times = []
    for _ in range(REPEAT):
        out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), path=str(path))],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial_dag.py"
        trivial.write_text(TRIVIAL)
        base = parse_seconds(trivial)
    print(f"{'DAG file':<45} {'parse ms':>9} {'x trivial':>10}")
    print(f"{'(trivial one-task DAG)':<45} {base * 1000:>9.1f} {1.0:>10.2f}")
    for path in sorted((ROOT / "dags").glob("*.py")):
        seconds = parse_seconds(path)
        print(f"{path.name:<45} {seconds * 1000:>9.1f} {seconds / base:>10.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: generate 50,000 tenants (every defect planted) into a fresh database; print rows/second.

Usage: PYTHONPATH=. .venv/bin/python bench/bench_generator.py [--tenants 50000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time

from include.demo_target.generator import DEFECTS, generate
from include.devservices.postgres import start_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = start_server()
    db_url = server.create_database("bench")
    try:
        started = time.perf_counter()
        result = generate(db_url, args.tenants, args.seed, list(DEFECTS))
        wall = time.perf_counter() - started
    finally:
        server.drop_database(db_url)
    print(
        json.dumps(
            {
                "tenants": result.tenants,
                "wall_seconds": round(wall, 2),
                "total_rows": result.total_rows,
                "rows_per_second": round(result.total_rows / wall),
                "rows": result.rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""The queue worker itself: a reload swaps the whole thread pool, none of the new threads lost.

A reload once queued stop markers for the old threads, and a new thread could take one and stop:
the pool then ran a thread short and the launch's readiness rule (every thread started) refused it.
"""

from __future__ import annotations

from pathlib import Path

from include.demo_worker.service import Worker


def test_every_reload_runs_exactly_the_threads_its_settings_ask_for(tmp_path: Path) -> None:
    env_file = tmp_path / "worker.env"
    worker = Worker(env_file)
    for threads in [6, 2, 6, 3, 8, 1, 6] * 3:
        env_file.write_text(f"WORKER_THREADS={threads}\nJOB_COST_MS=0\n")
        worker.reload()
        assert [worker.submit("render").outcome for _ in range(threads * 2)] == ["done"] * threads * 2
        status = worker.status()
        assert status["workers"] == {"threads": threads, "alive": threads}, status
        assert status["state"] == "serving"


def test_a_fault_fails_jobs_until_the_next_reload(tmp_path: Path) -> None:
    worker = Worker(tmp_path / "absent.env")
    worker.fail_ratio = 1.0
    assert worker.submit("export").outcome == "failed"
    worker.reload()
    assert worker.submit("export").outcome == "done"

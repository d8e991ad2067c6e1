"""Render queue worker pool scale-up (Airflow DAGs), the third launch: a queue worker the engine
knows only through its plan (include/plans/queueworker.yaml) and that plan's target profile.
``queueworker_scale_workers``: pre-checks, a DevOps lead's approval, a hot reload of the worker pool,
verification under synthetic jobs, a soak, automatic rollback; plus its incident and ledger DAGs."""

from include.launch.dags import launch_dags

globals().update(launch_dags("queueworker"))

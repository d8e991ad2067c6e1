"""A second demo service, shaped unlike the accounting one: a queue worker.

Requests submit jobs to an in-process queue served by ``WORKER_THREADS`` threads; each finished job
is recorded in PostgreSQL. It reports health on ``/status`` (its release in the ``X-Worker-Release``
header), metrics on ``/prom`` under its own names, and reads its settings from an env file. The
engine knows none of this: the third launch's plan (include/plans/queueworker.yaml) describes it.
"""

__version__ = "2.4.0"

"""Phase 1's own metric sources, with no Prometheus: connection churn from PostgreSQL's statistics,
reached only over TCP (as a database on another host is), and CPU from Debian's node exporter."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from include.devservices.postgres import PostgresServer, airflow_connection_json
from include.launch.plugins.metrics.catalog import ExporterParams, PostgresStatsParams
from include.launch.plugins.metrics.node_exporter import node_exporter
from include.launch.plugins.metrics.postgres_stats import postgres_stats


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _tcp_proxy(unix_path: str) -> tuple[int, socket.socket]:
    """127.0.0.1:<port> -> the server's unix socket, so every client byte crosses TCP."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(unix_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1]), listener


@pytest.fixture()
def tcp_database(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database reachable only as host=127.0.0.1 port=N, behind the ``remote_db`` connection."""
    url = pg_server.create_database("remote")
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "")
    listener = None
    if host.startswith("/"):  # the embedded server listens on a unix socket only: put TCP in front
        port, listener = _tcp_proxy(f"{host}/.s.PGSQL.{params.get('port') or 5432}")
        params.update(host="127.0.0.1", port=str(port))
    tcp_url = make_conninfo(**params)  # type: ignore[arg-type]
    assert conninfo_to_dict(tcp_url)["host"] in ("127.0.0.1", "localhost") or not host.startswith("/")
    monkeypatch.setenv("AIRFLOW_CONN_REMOTE_DB", airflow_connection_json(tcp_url))
    yield tcp_url
    if listener is not None:
        listener.close()
    pg_server.drop_database(url)


def _run(target_db: str = "remote_db") -> Any:
    return SimpleNamespace(spec=SimpleNamespace(plan=SimpleNamespace(connections=SimpleNamespace(target_db=target_db))))


def test_connection_churn_is_new_server_connections_per_minute_over_tcp(tcp_database: str) -> None:
    params = PostgresStatsParams()
    first = postgres_stats(_run(), params, None)
    assert first.error == "" and first.values["connection_churn_count"] is None  # a rate needs two samples
    for _ in range(12):  # the connection thrashing a bad pool setting causes
        with psycopg.connect(tcp_database, autocommit=True) as conn:
            conn.execute("SELECT 1")
    deadline = time.monotonic() + 10
    churn = None
    while time.monotonic() < deadline:  # statistics arrive when each backend has exited
        second = postgres_stats(_run(), params, first)
        churn = second.values["connection_churn_count"]
        elapsed_minutes = (second.taken_at - first.taken_at) / 60
        if churn is not None and churn * elapsed_minutes >= 12:
            break
        time.sleep(0.2)
    assert churn is not None and churn * elapsed_minutes >= 12, churn


def test_an_unreachable_database_is_an_error_sample_never_zero_churn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GONE_DB", json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 9,
                                                           "login": "nobody", "schema": "x"}))
    sample = postgres_stats(_run("gone_db"), PostgresStatsParams(), None)
    assert sample.error.startswith("gone_db: ") and sample.values == {}


def test_database_host_cpu_from_the_node_exporter(db_host_exporter: Any) -> None:
    params = ExporterParams(conn_id="accubooks_db_host")
    first = node_exporter(_run(), params, None)
    assert first.error == "" and first.values["db_cpu_percent"] is None and first.raw["total"] > 0
    deadline = time.monotonic() + 10
    busy_until = time.monotonic() + 0.3
    while time.monotonic() < busy_until:  # some CPU of our own, so the counters move
        pass
    while time.monotonic() < deadline:
        second = node_exporter(_run(), params, first)
        if second.values["db_cpu_percent"] is not None:
            break
        time.sleep(0.2)
    assert 0.0 <= float(second.values["db_cpu_percent"] or -1) <= 100.0


def test_an_exporter_that_does_not_answer_is_an_error_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DEAD_EXPORTER", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9"}))
    sample = node_exporter(_run(), ExporterParams(conn_id="dead_exporter"), None)
    assert sample.error.startswith("dead_exporter: ") and sample.values == {}


def test_postgres_stats_reads_the_connection_its_params_name(tcp_database: str) -> None:
    """conn_id overrides the plan's target_db (a database of its own, e.g. the ledger's host)."""
    params = PostgresStatsParams(conn_id="remote_db")
    first = postgres_stats(_run(target_db="not_defined"), params, None)
    assert first.error == "" and first.raw["sessions"] >= 1


def test_prometheus_reads_the_plan_queries_over_its_window(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real Prometheus: the source's own PromQL for a metric wins over the target profile's, in the
    window it names; a profile expression with no series is no data; no connection is an error sample."""
    from include.devservices.prometheus import monitoring_stack
    from include.launch.core.vocabulary import Metric
    from include.launch.plan import load_plan
    from include.launch.plugins.metrics.catalog import PrometheusParams
    from include.launch.plugins.metrics.prometheus import prometheus

    shipped = load_plan("accubooks")  # its target profile's PromQL: the registry this source reads
    run = SimpleNamespace(spec=SimpleNamespace(plan=SimpleNamespace(
        launch=SimpleNamespace(id="nobody_scrapes_this"), connections=SimpleNamespace(prometheus="prom"),
        promql=shipped.promql, promql_metrics=shipped.promql_metrics)))
    with monitoring_stack(tmp_path / "monitoring") as stack:
        monkeypatch.setenv("AIRFLOW_CONN_PROM_EXTRA", json.dumps(stack.prometheus_connection()))
        params = PrometheusParams(conn_id="prom_extra", window="1m",
                                  queries={Metric.UPTIME_PERCENT: "vector(99.5)", Metric.DB_CPU_PERCENT: "vector(12)"})
        sample = prometheus(run, params, None)
    assert sample.error == ""
    assert sample.values["uptime_percent"] == 99.5 and sample.values["db_cpu_percent"] == 12.0
    assert sample.values["error_rate_percent"] is None  # the registry's PromQL, for a job with no series
    monkeypatch.delenv("AIRFLOW_CONN_PROM", raising=False)
    missing = prometheus(run, PrometheusParams(), None)
    assert missing.error == "no Prometheus connection 'prom'"


def test_a_quantile_over_no_observations_is_no_data_never_nan() -> None:
    """Prometheus answers histogram_quantile() over an interval without observations with NaN (the
    forecast queue on a quiet day): no data, which the soak and the scorecard treat as unmeasured."""
    from include.monitoring.client import first_value

    assert first_value([{"metric": {}, "value": [1.0, "NaN"]}]) is None
    assert first_value([]) is None
    assert first_value([{"metric": {}, "value": [1.0, "12.5"]}]) == 12.5

"""AccuBooks Phase 2 (Airflow DAG): monitoring and alerting.

Prometheus rules and scrape config, Alertmanager routing (P0 pager + Slack, P1 Slack urgent, P2
Slack) and three dashboards, validated with promtool/amtool, installed, reloaded and verified live.
"""

from include.launch.dags import phase_dag

dag = phase_dag("accubooks", "phase2_monitoring")

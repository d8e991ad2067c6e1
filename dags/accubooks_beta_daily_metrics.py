"""AccuBooks beta daily metrics (Airflow DAG): the seven success criteria scored each beta day.

Platform metrics (Prometheus, else the target), product metrics (target database), day-7/day-14
surveys, integrity and isolation suites; daily JSON, report and charts, weekly rollups, Slack.
"""

from include.launch.dags import scorecard_dag

dag = scorecard_dag("accubooks", "beta_daily_metrics")

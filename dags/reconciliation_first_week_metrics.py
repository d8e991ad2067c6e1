"""Reconciliation first-week metrics (Airflow DAG): CFUR, p95 and error rate daily for 7 days after
the canary launch; uptime and satisfaction weekly. Same scorecard engine as the AccuBooks beta.
"""

from include.launch.dags import scorecard_dag

dag = scorecard_dag("reconciliation", "first_week_metrics")

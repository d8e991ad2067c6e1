"""The AccuBooks launch as `make demo` rehearses it: every DAG of the DEMO PLAN
(include/plans/accubooks_demo.yaml), the shipped plan with minutes-long windows and a replayed beta.
The demo's Airflow reads this folder instead of dags/, so the same DAG ids carry the demo plan and
every report and Slack message says DEMO PLAN."""

from include.launch.dags import launch_dags

globals().update(launch_dags("accubooks_demo"))

"""AccuBooks beta control (Airflow DAGs): pause the running beta on any day or resume it
(``accubooks_beta_control``), and turn its flags off when they expire (``accubooks_beta_flag_expiry``,
every quarter hour: detailed logging ends after 72 hours).

Seed 001: any integrity issue means an immediate pause (the daily metrics DAG pauses by itself on a
P0); the engineering lead may pause by hand; a named approver resumes once the incidents are resolved.
"""

from include.launch.dags import beta_control_dag, flag_expiry_dag

control = beta_control_dag("accubooks", "beta_daily_metrics")
expiry = flag_expiry_dag("accubooks", "beta_daily_metrics")

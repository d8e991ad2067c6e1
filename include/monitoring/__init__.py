"""Monitoring as code for a launch: Prometheus scrape config and alert rules, Alertmanager routing and
Grafana dashboards, all rendered from the plan and the Airflow connections at deploy time.

Nothing here holds a secret: the Slack webhook URL is written next to the installed Alertmanager
config (``api_url_file``) when the change is applied, never into the repository or a template.
"""

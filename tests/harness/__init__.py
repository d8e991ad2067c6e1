"""Real-service test harness: PostgreSQL, in-process Airflow, local Slack receiver."""

"""Project code importable by DAGs and tests (Airflow puts the project root on sys.path)."""

# The launch pipeline's Airflow image: the official apache/airflow 3.3.2 image plus the project's
# pinned requirements (the Celery provider included) and its code (DAGs, engine, plugins, plans).
FROM apache/airflow:3.3.2-python3.11

# Install as the airflow user, constrained to the Airflow version the image ships, as the image
# documentation recommends ("apache-airflow==${AIRFLOW_VERSION}" keeps pip from moving Airflow).
COPY --chown=airflow:0 requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# The project: PYTHONPATH points at /opt/airflow so "include.launch" imports in every component.
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
ENV PYTHONPATH=/opt/airflow
# The shared volume's mount point, owned by the airflow user so a fresh named volume inherits it.
RUN mkdir -p /opt/airflow/shared

# The cluster policy that routes checks and monitoring to the "checks" queue (the same text the
# process topology in tests/celery uses), in $AIRFLOW_HOME/config where Airflow looks for it.
RUN python -c "from pathlib import Path; from include.devservices.celery_stack import LOCAL_SETTINGS; \
p = Path('/opt/airflow/config/airflow_local_settings.py'); p.parent.mkdir(parents=True, exist_ok=True); \
p.write_text(LOCAL_SETTINGS)"

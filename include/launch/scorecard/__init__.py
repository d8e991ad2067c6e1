"""The daily beta-metrics DAG: its builder, its task bodies, and the day outcomes it records."""

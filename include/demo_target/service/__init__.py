"""The demo target's HTTP service: FastAPI app, pool, metrics, faults and forecast worker."""

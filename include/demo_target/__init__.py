"""A small, real multi-tenant accounting service that stands in for AccuBooks in demos and tests.

The launch pipeline is exercised against this service (real PostgreSQL, real pool, real replicas)
rather than a fake, so what the pipeline proves in tests carries over to a real launch.
"""

__version__ = "1.0.0"

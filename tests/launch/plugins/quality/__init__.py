"""Tests of the Great Expectations quality gates (real PostgreSQL, real GX)."""

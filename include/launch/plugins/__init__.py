"""Plug-ins by kind (checks, change appliers, metric sources, quality suites), each folder with its registry."""

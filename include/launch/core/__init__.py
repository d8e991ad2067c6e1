"""The base every room stands on: errors, the plug-in registry, the metric vocabulary, criteria, connections."""

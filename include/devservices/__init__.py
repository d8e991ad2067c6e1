"""Local stand-ins for the outside world (Slack), used by the demo and the tests."""

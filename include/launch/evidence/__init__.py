"""What a run leaves behind: the hash-chained ledger, the evidence store, reports, incidents, Slack, status."""

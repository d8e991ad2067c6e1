"""The Launch board: what the plugin shows, read from plans, the ledger and the evidence store."""

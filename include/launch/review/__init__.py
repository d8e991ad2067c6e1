"""Post-beta review: the beta's evidence read back, the success criteria judged over the whole beta,
scaling decisions from the plan's rules, a YES / CONDITIONAL / NO recommendation, and the reports an
executive reads before deciding (see include.launch.plugins.changes.review and include.launch.engine.decision)."""

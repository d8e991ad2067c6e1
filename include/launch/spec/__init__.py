"""What the engine renders from a plan: the phase spec, its trigger form, its effective criteria, the scorecard spec."""

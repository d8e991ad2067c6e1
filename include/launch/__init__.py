"""The launch engine: plans, phases, checks, change appliers, evidence and the audit ledger.

Importing this package is cheap on purpose: DAG files import it at parse time.
"""

"""``python -m include.launch.ledger verify``: the ledger's command line, kept at the address the
README, the phase reports and operators' runbooks give. The ledger itself lives in
``include.launch.evidence.ledger``."""

from include.launch.evidence.verification import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Great Expectations gates: data integrity and tenant isolation (see runner and suites)."""

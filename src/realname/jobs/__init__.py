"""Background jobs: work that runs outside a request (re-runs, re-verification)."""

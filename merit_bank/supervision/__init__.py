"""Supervision by the township: flags that point at favouritism, computed from the ledger, claims and shop.

See docs/supervision.md for each flag, its thresholds and why they are what they are.
"""

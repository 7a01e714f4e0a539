"""Signed checkpoints of each village's hash chain, their public endpoints, and outside witnesses.

See docs/ledger.md ("Checkpoints and witnesses" and the threat model).
"""

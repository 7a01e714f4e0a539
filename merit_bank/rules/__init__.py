"""Scoring rules (积分细则): the rulebook, its versions and the default rulebook."""

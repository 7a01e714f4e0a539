"""Claims (积分申报): filing, review, public notice and posting to the ledger."""

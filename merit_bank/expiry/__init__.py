"""Points expiry (积分清零): village settings, the 30-day announcement, the FIFO rule and the run."""

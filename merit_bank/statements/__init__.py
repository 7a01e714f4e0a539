"""Annual statements (年度积分对账单) per household, printed for a whole village or read on a phone."""

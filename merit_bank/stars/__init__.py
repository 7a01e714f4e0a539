"""星级文明户: a village's yearly star ratings of households, previewed, published (fixed) and printed."""

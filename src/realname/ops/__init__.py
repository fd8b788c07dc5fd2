"""Operations: the review queue, the console's metrics and the cost of running it."""

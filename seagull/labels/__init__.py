"""Region labels: the five-level scales, instruction/answer text, and (with the regions issue)
full-reference labelling and Seagull-3k aggregation."""

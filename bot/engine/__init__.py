"""Matching: normalise text, index every phrasing, score candidates, decide what to reply."""

"""Does each cited sentence of a report say what its cited source says? See `check` for the verdicts."""

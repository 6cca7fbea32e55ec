"""Pure. The back-care rules engine: readings, flags and check-ins in, prompts and actions out."""

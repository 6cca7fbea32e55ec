"""Runs leave the house: FIT, TCX and CSV files of a run (`run` has the model)."""

"""The reminder plan: which message goes to whom on which working day, derived from config alone."""

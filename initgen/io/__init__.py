"""Weight files: streaming writers, atomic output and readers."""

"""The `tallyhouse` command: the one layer that imports both the API and the pipeline."""

"""The example pipelines' stage code (importable from the repository root)."""

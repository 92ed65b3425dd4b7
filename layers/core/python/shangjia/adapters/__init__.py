"""Adapters: the only code in the package that knows AWS."""

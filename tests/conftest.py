"""Shared pytest configuration: hypothesis profile sized for a 2-core CI machine."""
from hypothesis import settings

settings.register_profile("book", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("book")

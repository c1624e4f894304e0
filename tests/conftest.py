"""Shared pytest configuration: one BLAS thread, and a hypothesis profile sized for a 2-core CI machine."""

import os

# Before numpy is imported by any test module (and inherited by nbval's kernels): the book's
# matrices are small, and BLAS threads oversubscribe a shared 2-core machine (see the Makefile).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from hypothesis import settings

settings.register_profile("book", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("book")

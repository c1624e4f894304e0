"""Chapter-level experiments: each module computes what one chapter shows and checks.

Notebooks call these; the formulas themselves live in the core modules
(``model``, ``flow``, ``derivation``, ``exact``).
"""

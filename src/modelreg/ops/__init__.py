"""Every change to the registry, each a few lines on one transaction
(:mod:`modelreg.ops.change`): init, register, edits, deprecate, promote, rollback.

Internal: the public API is :mod:`modelreg.api`.
"""

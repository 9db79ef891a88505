"""``modelreg validate``: every rule a registry's files must hold, and how findings
reach GitHub. (Named so that ``modelreg.validate`` stays the verb.)

Internal: the public API is :mod:`modelreg.api`.
"""

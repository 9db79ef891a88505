"""What changed, for people and programs: diff, stage history, comparisons, the
pull-request report and the dashboard.

Internal: the public API is :mod:`modelreg.api`.
"""

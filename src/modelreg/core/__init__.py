"""The registry's data and how it is read: YAML and schemas, the model objects, the
layout of files, references, the readers (working tree, git revision) and the read
API, and making untrusted text safe to show.

Internal: the public API is :mod:`modelreg.api`.
"""

"""Thin functions over a SQLAlchemy ``Session``, one module per concept.

They add and query rows within the caller's transaction and never commit; the
caller (an API route, a CLI command, a job) owns the unit of work. Import the
modules directly: ``from realname.store.repositories import tenants``.
"""

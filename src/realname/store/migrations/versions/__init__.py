"""Migration scripts, oldest first; Alembic skips this ``__init__`` file."""

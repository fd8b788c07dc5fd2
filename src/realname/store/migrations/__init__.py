"""Alembic migrations, packaged so an installed realname can migrate itself."""

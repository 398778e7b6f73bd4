"""Alembic's entry for the control store: always run by core.control_store.upgrade_store on
a connection it passes (never from alembic's own command line with a URL in a file)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)  # SQLite: ALTER in batch mode
with context.begin_transaction():
    context.run_migrations()

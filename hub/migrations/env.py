"""Alembic environment: runs on the engine the hub hands over (hub.db.alembic_config)."""

from alembic import context

from hub.tables import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()

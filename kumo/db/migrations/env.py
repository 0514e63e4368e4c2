from alembic import context

from kumo.db import Base
from kumo.db import models  # noqa: F401  (registers every table on Base.metadata)

config = context.config
engine = config.attributes.get("engine")


def run() -> None:
    if engine is None:
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with engine.execution_options(kumo_write=True).connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=engine.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()

"""Every table, imported in one place for Alembic and for tests."""

from kumo.identity import models as identity  # noqa: F401
from kumo import quotas  # noqa: F401,E402
from kumo.network import models as network  # noqa: F401,E402

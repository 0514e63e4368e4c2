"""Every table, imported in one place for Alembic and for tests."""

from kumo.identity import models as identity  # noqa: F401
from kumo.identity import cache as identity_cache  # noqa: F401,E402
from kumo import quotas  # noqa: F401,E402
from kumo.image import models as image  # noqa: F401,E402
from kumo.compute import models as compute  # noqa: F401,E402
from kumo.network import models as network  # noqa: F401,E402
from kumo.network import trunk_models as trunk  # noqa: F401,E402
from kumo.network.sfc import models as sfc  # noqa: F401,E402
from kumo.volume import models as volume  # noqa: F401,E402

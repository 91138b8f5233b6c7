from tests.chat.gateway_fixtures import make_adapter  # noqa: F401 - fixture
from tests.dashboard.live_server import web_server  # noqa: F401 - fixture

from tests.dashboard.live_server import web_server  # noqa: F401 - fixture

"""The ASGI app serves the dashboard's and the staff admin's stylesheets and scripts itself."""
from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(("host", "path", "kind"), [
    ("alpha.localhost", "/static/dashboard/dashboard.css", "text/css"),
    ("alpha.localhost", "/static/dashboard/dashboard.js", "javascript"),
    ("localhost", "/static/admin/css/base.css", "text/css"),
])
def test_static_files_are_served_on_any_host(web_server, host, path, kind):
    response = httpx.get(f"http://127.0.0.1:{web_server.port}{path}", headers={"Host": host})

    assert response.status_code == 200
    assert kind in response.headers["content-type"]
    assert len(response.content) > 500


def test_a_missing_static_file_is_404(web_server, db):  # the miss reaches Django, which resolves the host
    response = httpx.get(f"http://127.0.0.1:{web_server.port}/static/dashboard/nope.css", headers={"Host": "alpha.localhost"})

    assert response.status_code == 404

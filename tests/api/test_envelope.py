from __future__ import annotations

import re

from django.test import Client

from tests.api_fixtures import key_client


def test_a_success_answer_is_wrapped_in_the_envelope(host_a, agent_a, tenant_a, key_for):
    response = key_client(host_a, key_for(tenant_a)).get("/api/v2/agents/mai")

    body = response.json()
    assert response.status_code == 200
    assert set(body) >= {"success", "message", "data", "timestamp", "request_id", "tenant_id", "execution_time"}
    assert body["success"] is True
    assert body["data"]["slug"] == "mai"
    assert body["tenant_id"] == tenant_a.slug
    assert re.match(r"^req_[0-9a-f]{12}$", body["request_id"])
    assert response["X-Request-ID"] == body["request_id"]


def test_a_given_request_id_is_echoed_in_header_and_body(host_a, agent_a, tenant_a, key_for):
    client = key_client(host_a, key_for(tenant_a))
    response = client.get("/api/v2/agents", HTTP_X_REQUEST_ID="trace-42")

    assert response["X-Request-ID"] == "trace-42"
    assert response.json()["request_id"] == "trace-42"


def test_lists_carry_the_pagination_block(host_a, tenant_a, make_agent, member_client):
    for n in range(3):
        make_agent(tenant_a, f"bot-{n}")

    body = member_client("viewer").get("/api/v2/agents?page_size=2").json()

    assert [a["slug"] for a in body["data"]["items"]] == ["bot-0", "bot-1"]
    assert body["data"]["pagination"] == {
        "page": 1, "page_size": 2, "total": 3, "total_pages": 2, "has_next": True, "has_prev": False,
    }


def test_validation_errors_name_each_field(member_client):
    response = member_client("admin").post("/api/v2/agents", {"slug": "Bad Slug!", "name": ""}, content_type="application/json")

    body = response.json()
    assert response.status_code == 400
    assert body["success"] is False
    assert body["error_code"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"name"}  # the serializer stops at the blank name first


def test_a_bad_slug_is_refused_with_its_field(member_client):
    response = member_client("admin").post("/api/v2/agents", {"slug": "Bad Slug!", "name": "Ok"}, content_type="application/json")

    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


def test_malformed_json_gets_a_precise_code(member_client):
    response = member_client("admin").post("/api/v2/agents", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_REQUEST"


def test_no_credentials_is_authentication_failed(host_a):
    response = Client(HTTP_HOST=host_a).get("/api/v2/agents")

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_an_unknown_key_is_authentication_failed(host_a, tenant_a):
    response = key_client(host_a, "mmc_alpha_mai_0000_v1").get("/api/v2/agents")

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_an_unknown_agent_is_not_found(host_a, tenant_a, key_for, agent_a):
    response = key_client(host_a, key_for(tenant_a)).get("/api/v2/agents/nobody")

    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"


def test_a_duplicate_slug_is_a_conflict(member_client, agent_a):
    response = member_client("admin").post("/api/v2/agents", {"slug": "mai", "name": "Again"}, content_type="application/json")

    assert response.status_code == 409
    assert response.json()["error_code"] == "CONFLICT"


def test_nul_characters_in_a_query_or_body_are_a_validation_error(member_client, agent_a):
    client = member_client("member")

    in_query = client.get("/api/v2/memories?q=a%00b")
    in_body = client.post("/api/v2/memories", {"agent": "mai", "level": "agent", "title": "t\u0000", "content": "c"}, content_type="application/json")

    assert (in_query.status_code, in_query.json()["error_code"], list(in_query.json()["errors"])) == (400, "VALIDATION_ERROR", ["q"])
    assert (in_body.status_code, in_body.json()["error_code"], list(in_body.json()["errors"])) == (400, "VALIDATION_ERROR", ["title"])

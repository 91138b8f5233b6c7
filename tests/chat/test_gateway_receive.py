"""Receiving a platform message: stream, sender, media files and idempotency."""
from __future__ import annotations

import base64
import hashlib

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from chat.media import tenant_media_dir
from chat.models import ChatStream, Message, Person, stream_id_for
from chat.protocol import FrameError, parse_message
from chat.services import receive_message

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def group_frame(message_id=1873451, *, text="hello", group_id=123456789, user_id=987654321, **info):
    return {
        "message_info": {
            "platform": "qq", "message_id": message_id, "time": 1732250000.123,
            "group_info": {"platform": "qq", "group_id": group_id, "group_name": "test group"},
            "user_info": {"platform": "qq", "user_id": user_id, "user_nickname": "Alice", "user_cardname": None},
            **info,
        },
        "message_segment": {"type": "seglist", "data": [{"type": "text", "data": text}]},
    }


@pytest.fixture
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_integer_ids_are_stored_as_strings(in_tenant_a, agent_a):
    # when
    received = receive_message(agent_a, parse_message(group_frame(), "qq"))
    # then
    message = Message.objects.get(pk=received.message.pk)
    assert received.created
    assert message.platform_message_id == "1873451"
    assert message.stream.group_id == "123456789"
    assert message.sender.user_id == "987654321"
    assert message.sender.nickname == "Alice"
    assert message.sender.cardname == ""
    assert message.text == "hello"
    assert message.time.timestamp() == pytest.approx(1732250000.123)


def test_the_stream_id_hashes_tenant_agent_platform_and_chat(in_tenant_a, agent_a):
    received = receive_message(agent_a, parse_message(group_frame(), "qq"))
    expected = hashlib.sha256(f"{in_tenant_a.schema_name}|mai|qq|123456789".encode()).hexdigest()
    assert received.stream.stream_id == expected
    private = {"message_info": {"platform": "qq", "message_id": 7, "user_info": {"user_id": 42}},
               "message_segment": {"type": "text", "data": "hi"}}
    stream = receive_message(agent_a, parse_message(private, "qq")).stream
    assert stream.stream_id == stream_id_for(in_tenant_a.schema_name, "mai", "qq", user_id="42")
    assert stream.is_private and stream.private_user_id == "42"


def test_a_resent_message_is_stored_once(in_tenant_a, agent_a):
    first = receive_message(agent_a, parse_message(group_frame(text="once"), "qq"))
    again = receive_message(agent_a, parse_message(group_frame(text="once, edited"), "qq"))
    assert not again.created
    assert again.message.pk == first.message.pk
    assert Message.objects.filter(platform_message_id="1873451").count() == 1
    assert Message.objects.get().text == "once"


def test_the_same_ids_in_another_tenant_are_another_stream(tenant_a, tenant_b, agent_a, agent_b):
    with tenant_context(tenant_a):
        a = receive_message(agent_a, parse_message(group_frame(), "qq"))
    with tenant_context(tenant_b):
        b = receive_message(agent_b, parse_message(group_frame(), "qq"))
        assert ChatStream.objects.count() == 1
        assert Message.objects.count() == 1
    assert a.created and b.created
    assert a.stream.stream_id != b.stream.stream_id
    with tenant_context(tenant_a):
        assert Message.objects.count() == 1


def test_the_sender_is_upserted_with_the_latest_names(in_tenant_a, agent_a):
    receive_message(agent_a, parse_message(group_frame(1), "qq"))
    frame = group_frame(2)
    frame["message_info"]["user_info"].update(user_nickname="Alice2", user_cardname="Ally")
    receive_message(agent_a, parse_message(frame, "qq"))
    person = Person.objects.get()
    assert (person.nickname, person.cardname) == ("Alice2", "Ally")
    assert Message.objects.filter(sender=person).count() == 2


def test_images_are_stored_as_files_of_the_tenant_not_inline(in_tenant_a, agent_a, media_root):
    # given
    frame = group_frame()
    encoded = base64.b64encode(PNG).decode()
    frame["message_segment"]["data"].append({"type": "image", "data": encoded})
    # when
    message = receive_message(agent_a, parse_message(frame, "qq")).message
    # then
    image = message.segments["data"][1]
    assert image["type"] == "image"
    assert image["data"]["stored"] is True
    assert image["data"]["mime"] == "image/png"
    path = media_root / image["data"]["file"]
    assert path.read_bytes() == PNG
    assert path.is_relative_to(tenant_media_dir(in_tenant_a.schema_name))
    assert encoded not in str(message.segments)
    assert message.text == "hello [image]"


def test_oversized_and_broken_media_are_referenced_but_not_stored(in_tenant_a, agent_a, media_root, settings):
    settings.CHAT_MEDIA_MAX_BYTES = 32
    frame = group_frame()
    frame["message_segment"]["data"] += [
        {"type": "voice", "data": base64.b64encode(b"#!AMR" + b"\x00" * 64).decode()},
        {"type": "emoji", "data": "not base64 at all!"},
    ]
    message = receive_message(agent_a, parse_message(frame, "qq")).message
    voice, emoji = message.segments["data"][1:]
    assert voice["data"] == {"stored": False, "reason": "too_large", "max_bytes": 32}
    assert emoji["data"] == {"stored": False, "reason": "not_base64"}
    assert not any(media_root.rglob("*.amr"))


def test_unknown_segments_and_nested_nulls_are_kept(in_tenant_a, agent_a):
    frame = group_frame()
    frame["message_segment"]["data"].append({"type": "hologram", "data": {"beam": None}})
    frame["message_info"]["template_info"] = None
    message = receive_message(agent_a, parse_message(frame, "qq")).message
    assert message.segments["data"][1] == {"type": "hologram", "data": {"beam": None}}
    assert message.text == "hello"


def test_the_quoted_message_id_is_recorded(in_tenant_a, agent_a):
    frame = group_frame(additional_config={"reply_message_id": 1873400})
    assert receive_message(agent_a, parse_message(frame, "qq")).message.reply_to_id == "1873400"
    frame = group_frame(2)
    frame["message_segment"]["data"].insert(0, {"type": "reply", "data": 55})
    assert receive_message(agent_a, parse_message(frame, "qq")).message.reply_to_id == "55"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda f: f.pop("message_info"), "missing_field"),
        (lambda f: f["message_info"].pop("user_info"), "missing_field"),
        (lambda f: f["message_info"]["user_info"].update(user_id=True), "invalid_field"),
        (lambda f: f["message_info"].update(platform="discord"), "platform_mismatch"),
        (lambda f: f.update(message_segment={"type": "seglist", "data": "x"}), "invalid_segment"),
        (lambda f: f.update(message_segment={"data": "x"}), "invalid_segment"),
    ],
)
def test_malformed_messages_are_refused_with_a_code(change, code):
    frame = group_frame()
    change(frame)
    with pytest.raises(FrameError) as refused:
        parse_message(frame, "qq")
    assert refused.value.code == code


def test_segments_nested_too_deep_are_refused():
    segment = {"type": "text", "data": "x"}
    for _ in range(settings.CHAT_SEGMENT_MAX_DEPTH + 1):
        segment = {"type": "seglist", "data": [segment]}
    frame = group_frame()
    frame["message_segment"] = segment
    with pytest.raises(FrameError, match="deeper"):
        parse_message(frame, "qq")

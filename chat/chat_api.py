"""`/api/v2/chat…`: talk to an agent over HTTP, and read a chat's history.

`POST /chat` runs the same pipeline turn as an adapter message and answers with the
decision and the reply; `POST /chat/stream` does the same as server-sent events
(`delta` events while the reply is written, then one `done` or `error` event).
An API key talks as its own agent; a dashboard session names the agent in `agent`.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import Agent
from chat.models import ChatStream, Message, stream_id_for
from chat.playground import ChatTurn, answer_http_message, earlier_answer, store_http_message
from maibot import context
from maibot.api.access import get_agent_or_404
from maibot.api.errors import ApiError, conflict, not_found, quota_exceeded
from maibot.api.views import TenantAPIView
from tenants.apikeys import KeyIdentity

logger = logging.getLogger(__name__)

ID_FIELD = {"max_length": 128, "allow_blank": False, "trim_whitespace": True}
PLATFORM_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class ChatUserSerializer(serializers.Serializer):
    id = serializers.CharField(**ID_FIELD, help_text="The user's id on the platform")
    nickname = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    cardname = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                     help_text="The user's name in this group, if any")


class ChatRequestSerializer(serializers.Serializer):
    agent = serializers.SlugField(max_length=40, required=False,
                                  help_text="Dashboard sessions only: which agent answers (a key answers as its own)")
    platform = serializers.RegexField(PLATFORM_PATTERN, help_text="e.g. web, qq, discord")
    group_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=128,
                                     help_text="The group chat; leave out for a private chat with the user")
    group_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    user = ChatUserSerializer()
    message = serializers.CharField(trim_whitespace=True)
    message_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=128,
                                       help_text="Your id for the message; sending it again returns the first answer")

    def validate_message(self, value: str) -> str:
        if len(value) > settings.CHAT_MESSAGE_MAX_CHARS:
            raise serializers.ValidationError(f"Send at most {settings.CHAT_MESSAGE_MAX_CHARS} characters.")
        return value


ChatAnswerSerializer = inline_serializer(
    "ChatAnswer",
    {
        "reply": serializers.CharField(allow_null=True, help_text="The agent's reply, or null when it stays silent"),
        "replies": serializers.ListField(child=serializers.CharField(), help_text="The reply as sent (split if long)"),
        "decision": inline_serializer("ChatDecision", {
            "action": serializers.ChoiceField(["reply", "silent"]), "reason": serializers.CharField(),
            "source": serializers.CharField(), "stage": serializers.CharField(),
        }),
        "stream_id": serializers.CharField(),
        "message_id": serializers.CharField(),
        "repeated": serializers.BooleanField(help_text="True when this message id was already answered"),
    },
)


class HistoryMessageSerializer(serializers.ModelSerializer):
    sender = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "direction", "platform_message_id", "text", "sender", "reply_to_id", "time", "delivery"]

    def get_sender(self, message: Message) -> dict[str, str] | None:
        if message.sender is None:
            return None
        person = message.sender
        return {"user_id": person.user_id, "nickname": person.nickname, "cardname": person.cardname}


def _agent_for(request: Request, named: str | None) -> Agent:
    """The key's own agent, or the agent a dashboard session names; others are 404."""
    if isinstance(request.auth, KeyIdentity):
        slug = request.auth.agent_slug
    elif named:
        slug = named
    else:
        raise ApiError("VALIDATION_ERROR", "Name the agent that should answer.", fields={"agent": ["Give an agent slug."]})
    return get_agent_or_404(request, slug)


def _answer(turn: ChatTurn) -> dict[str, Any]:
    return {
        "reply": turn.reply,
        "replies": turn.replies,
        "decision": {"action": turn.action, "reason": turn.reason, "source": turn.source, "stage": turn.stage},
        "stream_id": turn.stream_id,
        "message_id": turn.message_id,
        "repeated": turn.repeated,
    }


def _refusal(turn: ChatTurn) -> ApiError | None:
    """Outcomes the caller must hear about as errors, not as the agent choosing silence."""
    if turn.stage == "quota":
        return quota_exceeded(turn.reason)
    if turn.stage == "llm":
        return ApiError("LLM_UNAVAILABLE", "No language model answered; try again later.", 503)
    return None


class ChatView(TenantAPIView):
    required_scopes = {"POST": "chat"}
    required_roles = {"POST": "member"}
    streaming = False

    def _start(self, request: Request):
        serializer = ChatRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        agent = _agent_for(request, data.get("agent"))
        if not agent.is_active:
            raise conflict("This agent is switched off.")
        context.set_isolation(agent=agent.slug, platform=data["platform"])
        user = data["user"]
        received = store_http_message(
            agent, platform=data["platform"], user_id=user["id"], nickname=user["nickname"],
            cardname=user["cardname"], text=data["message"], group_id=data["group_id"],
            group_name=data["group_name"], message_id=data["message_id"],
        )
        return agent, received

    @extend_schema(request=ChatRequestSerializer, responses=ChatAnswerSerializer,
                   summary="Send a message and get the agent's answer")
    def post(self, request: Request) -> Response:
        agent, received = self._start(request)
        if not received.created:
            return Response(_answer(earlier_answer(received)))
        try:
            turn = async_to_sync(answer_http_message)(request.api_tenant, agent, received)
        except TimeoutError as exc:
            raise conflict(str(exc)) from exc
        refusal = _refusal(turn)
        if refusal is not None:
            raise refusal
        return Response(_answer(turn))


class ChatStreamView(ChatView):
    @extend_schema(
        request=ChatRequestSerializer,
        responses={(200, "text/event-stream"): str},
        summary="Send a message and stream the answer as server-sent events",
        description="Events: `delta` ({text}) while the reply is written, then `done` (the same body as "
                    "POST /chat) or `error` ({error_code, message}).",
    )
    def post(self, request: Request) -> StreamingHttpResponse | Response:
        agent, received = self._start(request)
        if not received.created:
            return Response(_answer(earlier_answer(received)))
        response = StreamingHttpResponse(_events(request.api_tenant, agent, received),
                                         content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # let proxies pass events through at once
        return response


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _events(tenant, agent: Agent, received) -> AsyncIterator[str]:
    """Deltas as the model writes them, then the outcome; bounded by the turn's own timeouts."""
    loop = asyncio.get_running_loop()
    deltas: asyncio.Queue[str | None] = asyncio.Queue(maxsize=settings.CHAT_STREAM_MAX_EVENTS)

    def on_delta(text: str) -> None:
        # Called from the database thread that runs the model call.
        loop.call_soon_threadsafe(_offer, deltas, text)

    async def run() -> ChatTurn:
        try:
            return await answer_http_message(tenant, agent, received, on_delta=on_delta)
        finally:
            loop.call_soon_threadsafe(_offer, deltas, None)

    task = asyncio.ensure_future(run())
    while (delta := await deltas.get()) is not None:
        yield _event("delta", {"text": delta})
    try:
        turn = await task
    except TimeoutError as exc:
        yield _event("error", {"error_code": "CONFLICT", "message": str(exc)})
        return
    refusal = _refusal(turn)
    if refusal is not None:
        yield _event("error", {"error_code": refusal.error_code, "message": refusal.message})
        return
    yield _event("done", _answer(turn))


def _offer(queue: asyncio.Queue, item: str | None) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        if item is None:  # the end marker must get through: drop a delta for it
            queue.get_nowait()
            queue.put_nowait(None)


class ChatHistoryView(TenantAPIView):
    required_scopes = {"GET": "chat"}
    required_roles = {"GET": "viewer"}

    @extend_schema(
        parameters=[
            OpenApiParameter("platform", str, required=True),
            OpenApiParameter("group_id", str, description="The group chat"),
            OpenApiParameter("user_id", str, description="The private chat with this user (without group_id)"),
            OpenApiParameter("agent", str, description="Dashboard sessions only: whose chat"),
        ],
        responses=HistoryMessageSerializer(many=True),
        summary="A chat's messages, newest first",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        agent = _agent_for(request, params.get("agent"))
        platform = params.get("platform", "")
        group_id, user_id = params.get("group_id", ""), params.get("user_id", "")
        if not platform or not (group_id or user_id):
            raise ApiError("VALIDATION_ERROR", "Say which chat: platform and group_id or user_id.", fields={
                "platform": ["Required."] if not platform else [],
                "group_id": [] if (group_id or user_id) else ["Give group_id, or user_id for a private chat."],
            })
        stream_id = stream_id_for(request.api_tenant.schema_name, agent.slug, platform,
                                  group_id=group_id or None, user_id=user_id or None)
        stream = ChatStream.objects.filter(stream_id=stream_id, agent=agent).first()
        if stream is None:
            raise not_found("chat")
        messages = Message.objects.filter(stream=stream).select_related("sender").order_by("-pk")
        return self.paginate(messages, HistoryMessageSerializer)

"""The `/ws` gateway: one bot adapter's socket, in either maim_message framing.

Thin by design: the handshake names tenant and agent (through the API key), every frame
is bounded, parsed and validated by `chat.protocol`, stored by `chat.services`, and the
reply pipeline runs as a background task. Outbound messages arrive through the
channel-layer group of (tenant, agent, platform) and are written by `chat.delivery`'s
rules. A bad frame gets an error frame and a log line; the connection stays open.

Every ORM call runs inside `tenant_context(...)` in the same `database_sync_to_async`
function (`delivery.database_call`): the schema is set for each call, never assumed from
the connection, whichever pooled thread and connection the call lands on.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django_tenants.utils import tenant_context

from chat import adapters, delivery, pipeline, protocol, services
from chat.adapters import AdapterIdentity, AdapterRefused
from chat.delivery import database_call
from chat.protocol import CustomMessage, FrameError, InboundMessage
from maibot import context

logger = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_NORMAL = 1000
CLOSE_UNAVAILABLE = 1011
# Pipeline runs keep going after their socket closes (their replies wait for the next
# connection), so they are held here rather than by the consumer.
_pipeline_runs: set[asyncio.Task] = set()


@dataclass(frozen=True)
class StoredInbound:
    pk: int
    stream_id: str
    created: bool
    text: str
    user_id: str
    speaker: str
    group_id: str


class AdapterConsumer(AsyncWebsocketConsumer):
    identity: AdapterIdentity | None = None
    replaced = False  # a newer connection took over
    closing = False  # we are closing this socket for another reason

    # --- connection life -------------------------------------------------------------------------

    async def connect(self) -> None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope.get("headers", [])
        }
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.handshake = protocol.read_handshake(headers, query)
        self.in_flight: set[asyncio.Task] = set()
        # Accept first, then refuse with 1008 and a reason, as maim_message servers do.
        await self.accept()
        try:
            identity = await database_call(adapters.authenticate_adapter)(
                self.handshake.api_key, self.handshake.platform
            )
        except AdapterRefused as refused:
            logger.warning("adapter refused on %s (%s): %s", self.handshake.platform or "-", refused.code,
                           refused.message)
            await self.close(code=CLOSE_POLICY, reason=refused.message[:120])
            return
        except Exception:
            logger.exception("adapter not authenticated: the database did not answer")
            await self._close_unavailable()
            return
        schema, agent_slug, platform = identity.tenant.schema_name, identity.agent_slug, identity.platform
        context.set_isolation(tenant=schema, agent=agent_slug, platform=platform)
        self.group = delivery.connection_group(schema, agent_slug, platform)
        self.identity = identity
        try:
            # Newest wins: claim the adapter slot, tell older sockets (any process) to close, then listen.
            await adapters.take_over(schema, agent_slug, platform, self.channel_name)
            await self.channel_layer.group_send(self.group, {"type": "chat.replaced", "by": self.channel_name})
            await self.channel_layer.group_add(self.group, self.channel_name)
            if not await adapters.is_current(schema, agent_slug, platform, self.channel_name):
                await self._close_replaced()  # an even newer connection arrived meanwhile
                return
            logger.info("adapter connected (%s mode)", "api-server" if self.handshake.api_mode else "legacy")
            await self._replay_pending()
        except Exception:
            logger.exception("adapter connection not set up")
            await self._close_unavailable()

    async def _close_unavailable(self) -> None:
        """Redis or the database failed us: the adapter reconnects later; nothing was lost."""
        self.closing = True
        await self.close(code=CLOSE_UNAVAILABLE, reason="Temporarily unavailable; reconnect later.")

    async def disconnect(self, code: int) -> None:
        if self.identity is None:
            return
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            if not self.replaced:
                await adapters.release(self.identity.tenant.schema_name, self.identity.agent_slug,
                                       self.identity.platform, self.channel_name)
        except Exception:
            # The claim expires by itself (CHAT_ADAPTER_CLAIM_SECONDS); a newer connection overrides it anyway.
            logger.warning("adapter connection not released cleanly", exc_info=True)
        logger.info("adapter disconnected (%s)", code)

    async def chat_replaced(self, event: dict[str, Any]) -> None:
        if event.get("by") != self.channel_name and not self.replaced:
            await self._close_replaced()

    async def _close_replaced(self) -> None:
        self.replaced = True
        logger.info("adapter connection replaced by a newer one")
        await self.close(code=CLOSE_NORMAL, reason="Replaced by a newer connection.")

    # --- inbound frames ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.identity is None or self.replaced or self.closing:
            return
        try:
            frame = protocol.decode_frame(text_data if text_data is not None else bytes_data)
            if self.handshake.api_mode:
                await self._on_envelope(frame)
            else:
                await self._on_legacy(frame)
        except FrameError as error:
            await self._refuse(error)
        except AdapterRefused as refused:
            logger.warning("adapter closed (%s): %s", refused.code, refused.message)
            self.closing = True
            await self.close(code=CLOSE_POLICY, reason=refused.message[:120])
        except Exception:
            logger.exception("frame not handled")
            await self._refuse(FrameError("internal_error", "The frame could not be handled; send it again later."))

    async def _on_legacy(self, frame: dict[str, Any]) -> None:
        item = protocol.parse_legacy_frame(frame, self.identity.platform)
        if isinstance(item, CustomMessage):
            await self._on_custom(item)
        else:
            await self._on_message(item)

    async def _on_envelope(self, frame: dict[str, Any]) -> None:
        envelope = protocol.parse_envelope(frame)
        if envelope.type == "sys_ack":
            acked = envelope.meta.get("acked_msg_id")
            if isinstance(acked, (str, int)) and not isinstance(acked, bool):
                # Acks of our error frames name no message; only message acks change anything.
                await self._record_delivery(str(acked))
            return
        await self._send_frame(protocol.api_ack(self.handshake.connection_uuid, envelope.msg_id))
        identity = self.identity
        if not await adapters.first_sighting(identity.tenant.schema_name, identity.agent_slug, identity.platform,
                                             envelope.msg_id):
            logger.info("duplicate msg_id %s dropped", envelope.msg_id)
            return
        try:
            if envelope.type == "sys_std":
                if not isinstance(envelope.payload, dict):
                    raise FrameError("invalid_frame", "A sys_std payload must be a MessageBase object.")
                await self._on_message(protocol.parse_message(envelope.payload, identity.platform, api_mode=True))
            elif envelope.type.startswith("custom_"):
                await self._on_custom(CustomMessage(envelope.type.removeprefix("custom_"), envelope.payload))
            else:
                logger.debug("frame type %s ignored", envelope.type)
        except FrameError as error:
            await self._refuse(error, about_msg_id=envelope.msg_id)

    async def _on_custom(self, item: CustomMessage) -> None:
        if item.name == "message_id_echo":
            echo = protocol.parse_echo(item.content)
            if not await self._record_delivery(echo.our_id, actual_id=echo.actual_id):
                logger.info("message_id_echo for unknown message %s", echo.our_id)
        elif item.name == "command_response":
            logger.info("command response: %s", json.dumps(item.content)[:500])
            await delivery.publish_live_event(self.identity.tenant.schema_name, self.identity.agent_slug, {
                "kind": "command_response", "platform": self.identity.platform, "content": item.content,
            })
        else:
            logger.info("custom message %s ignored", item.name)

    async def _on_message(self, inbound: InboundMessage) -> None:
        stored = await self._store(inbound)
        if not stored.created:
            logger.info("message %s was already stored; not handled again", inbound.message_id)
            return
        identity = self.identity
        await delivery.publish_live_event(identity.tenant.schema_name, identity.agent_slug, {
            "kind": "message_in", "platform": identity.platform, "stream_id": stored.stream_id,
            "message_pk": stored.pk, "group_id": stored.group_id, "user_id": stored.user_id,
            "speaker": stored.speaker, "text": stored.text,
        })
        self._hand_to_pipeline(stored)

    def _hand_to_pipeline(self, stored: StoredInbound) -> None:
        """Start the pipeline without waiting: the socket reader must never block on a reply."""
        if len(self.in_flight) >= settings.CHAT_PIPELINE_MAX_TASKS:
            # Stored all the same: the stream's next turn reads it with the rest of the burst.
            logger.warning("%d pipeline runs in flight; message %s waits for its stream's next turn",
                           len(self.in_flight), stored.pk)
            return
        identity = self.identity
        task = asyncio.create_task(
            pipeline.handle_inbound(identity.tenant, identity.agent_slug, identity.platform, stored.stream_id,
                                    stored.pk)
        )
        self.in_flight.add(task)
        _pipeline_runs.add(task)
        task.add_done_callback(self._pipeline_done)

    def _pipeline_done(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        _pipeline_runs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("pipeline run failed", exc_info=task.exception())

    async def _refuse(self, error: FrameError, *, about_msg_id: str = "") -> None:
        logger.warning("bad frame (%s): %s", error.code, error.message)
        platform = self.identity.platform
        if self.handshake.api_mode:
            await self._send_frame(protocol.api_error(platform, error, about_msg_id=about_msg_id))
        else:
            await self._send_frame(protocol.legacy_error(platform, error))

    # --- outbound ---------------------------------------------------------------------------------

    async def chat_outbound(self, event: dict[str, Any]) -> None:
        if self.identity is not None and not self.replaced and not self.closing:
            await self._write_outbound(int(event["message_pk"]), event.get("outbound"))

    async def _replay_pending(self) -> None:
        pending = await self._pending()
        if pending:
            logger.info("replaying %d undelivered messages", len(pending))
        for message_pk in pending:
            await self._write_outbound(message_pk)

    async def _write_outbound(self, message_pk: int, announced: dict[str, Any] | None = None) -> None:
        """Claim the message, then write it. A live announcement carries the frame's content,
        so only the claim touches the database; a replay reads the message."""
        if announced is not None:
            out = protocol.Outbound(**announced) if await self._claim_announced(message_pk) else None
        else:
            out = await self._claim(message_pk)
        if out is None:
            return  # already written (live and replay both saw it) or not this adapter's
        if self.handshake.api_mode:
            frame = protocol.api_message(out, api_key=self.identity_key_label)
        else:
            frame = protocol.legacy_message(out)
        try:
            await self._send_frame(frame)
        except Exception as exc:  # the socket went away (or stalled past CHAT_WS_SEND_TIMEOUT)
            await self._unclaim(message_pk)
            logger.warning("message %s not written (%r); it waits for the next connection", message_pk, exc)

    @property
    def identity_key_label(self) -> str:
        # The adapter's own key is not echoed back; message_dim only needs to name it.
        return self.handshake.api_key[:24]

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        await asyncio.wait_for(self.send(text_data=json.dumps(frame, ensure_ascii=False)),
                               timeout=settings.CHAT_WS_SEND_TIMEOUT)

    # --- database work: one call each, inside the tenant's schema -------------------------------

    @database_call
    def _store(self, inbound: InboundMessage) -> StoredInbound:
        with tenant_context(self.identity.tenant):
            received = services.receive_message(self.identity.agent, inbound, tenant=self.identity.tenant)
            return StoredInbound(
                pk=received.message.pk,
                stream_id=received.stream.stream_id,
                created=received.created,
                text=received.message.text,
                user_id=inbound.user_id,
                speaker=inbound.cardname or inbound.nickname or inbound.user_id,
                group_id=inbound.group_id,
            )

    @database_call
    def _claim(self, message_pk: int) -> protocol.Outbound | None:
        with tenant_context(self.identity.tenant):
            return delivery.claim_for_sending(self.identity.agent_slug, self.identity.platform, message_pk)

    @database_call
    def _claim_announced(self, message_pk: int) -> bool:
        with tenant_context(self.identity.tenant):
            return delivery.claim(self.identity.agent_slug, self.identity.platform, message_pk)

    @database_call
    def _unclaim(self, message_pk: int) -> None:
        with tenant_context(self.identity.tenant):
            delivery.unclaim(message_pk)

    @database_call
    def _pending(self) -> list[int]:
        with tenant_context(self.identity.tenant):
            return delivery.pending_for_adapter(self.identity.agent_slug, self.identity.platform)

    async def _record_delivery(self, our_id: str, *, actual_id: str = "") -> bool:
        @database_call
        def record() -> bool:
            with tenant_context(self.identity.tenant):
                return delivery.record_delivery(self.identity.agent_slug, self.identity.platform, our_id,
                                                actual_id=actual_id)

        return await record()

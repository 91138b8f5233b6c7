from __future__ import annotations

from django.urls import path

from memory import api

urlpatterns = [
    path("memories", api.MemoryList.as_view(), name="api-memories"),
    path("memories/batch", api.MemoryBatch.as_view(), name="api-memories-batch"),
    path("memories/batch-delete", api.MemoryBatchDelete.as_view(), name="api-memories-batch-delete"),
    path("memories/search", api.MemorySearch.as_view(), name="api-memories-search"),
    path("memories/aggregate", api.MemoryAggregate.as_view(), name="api-memories-aggregate"),
    path("memories/stats", api.MemoryStats.as_view(), name="api-memories-stats"),
    path("memories/conflicts", api.ConflictList.as_view(), name="api-conflicts"),
    path("memories/conflicts/<int:conflict_id>", api.ConflictDetail.as_view(), name="api-conflict"),
    path("memories/conflicts/<int:conflict_id>/resolve", api.ConflictResolve.as_view(), name="api-conflict-resolve"),
    path("memories/<int:memory_id>", api.MemoryDetail.as_view(), name="api-memory"),
    path("stats/usage", api.StatsUsage.as_view(), name="api-stats-usage"),
]

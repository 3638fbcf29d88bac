"""The API's side of embeddings: search queries carry a vector of the app's current model."""

from domain.embeddings.runtime import EmbeddingRuntime, EmbeddingRuntimeDep
from domain.search.ranking import SearchQuery

EmbeddingDep = EmbeddingRuntimeDep


async def build_search_query(
    runtime: EmbeddingRuntime, text: str | None, semantic: str | None
) -> SearchQuery:
    vector = await runtime.embed_query(semantic) if semantic else None
    return SearchQuery(text=text, vector=vector, model_id=runtime.model_id)

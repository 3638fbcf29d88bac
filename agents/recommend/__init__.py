"""Resource recommendations: a model re-ranks and explains candidates found by meaning."""

from agents.recommend.graph import RERANK_PROMPT, build_recommend_graph, choose

__all__ = ["RERANK_PROMPT", "build_recommend_graph", "choose"]

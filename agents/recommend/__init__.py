"""Resource recommendations: a model re-ranks and explains candidates found by meaning."""

from agents.recommend.graph import RERANK_PROMPT, build_recommend_graph, choose
from agents.recommend.ranker import GraphRanker

__all__ = ["RERANK_PROMPT", "GraphRanker", "build_recommend_graph", "choose"]

"""The summary agent: map-reduce summaries of notes and courses."""

from agents.summary.graph import PROMPT_VERSION, SummaryContext, build_summary_graph
from agents.summary.runner import GraphSummariser

__all__ = ["PROMPT_VERSION", "GraphSummariser", "SummaryContext", "build_summary_graph"]

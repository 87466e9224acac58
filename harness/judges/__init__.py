"""Per-item judges that grade model answers: alias tiers, MC letters, refusal patterns, LLM judges over an
OpenAI-compatible endpoint and a loopback server for one (aggregation lives in ``harness.stats``)."""

from harness.judges._alias import AliasJudge, alias_match, first_line, normalize_answer
from harness.judges._base import JudgeInfo, Judgement, Label, check_one_judge
from harness.judges._llm import RUBRICS, JudgeEndpoint, JudgeStats, LLMJudge, LLMVerdict, Rubric, get_rubric
from harness.judges._mc_letter import MCLetterJudge, parse_mc_letter, score_mc_letters
from harness.judges._refusal import (
    NOT_ATTEMPTED_PATTERNS,
    PREMISE_REJECTION_PATTERNS,
    is_refusal,
    offers_guess,
    rejects_premise,
    split_refusal,
)
from harness.judges._server import JudgeServer, serve_model
from harness.judges._tiered import MAX_CONTAINMENT_TOKENS, NEGATION_WINDOW, TieredAliasJudge, tier_counts

__all__ = [
    "MAX_CONTAINMENT_TOKENS",
    "NEGATION_WINDOW",
    "NOT_ATTEMPTED_PATTERNS",
    "PREMISE_REJECTION_PATTERNS",
    "RUBRICS",
    "AliasJudge",
    "JudgeEndpoint",
    "JudgeInfo",
    "JudgeServer",
    "JudgeStats",
    "Judgement",
    "LLMJudge",
    "LLMVerdict",
    "Label",
    "MCLetterJudge",
    "Rubric",
    "TieredAliasJudge",
    "alias_match",
    "check_one_judge",
    "first_line",
    "get_rubric",
    "is_refusal",
    "normalize_answer",
    "offers_guess",
    "parse_mc_letter",
    "rejects_premise",
    "score_mc_letters",
    "serve_model",
    "split_refusal",
    "tier_counts",
]

"""Per-item judges that grade model answers (aggregation lives in ``harness.stats``)."""

from harness.judges._alias import AliasJudge, alias_match, first_line, normalize_answer

__all__ = ["AliasJudge", "alias_match", "first_line", "normalize_answer"]

"""QA benchmarks: TriviaQA loaders and the project's embedded factual-QA set."""

from harness.benchmarks._qa import EMBEDDED_QA_PATH, QAItem, load_embedded_qa, load_qa_jsonl
from harness.benchmarks._triviaqa import load_triviaqa

__all__ = ["EMBEDDED_QA_PATH", "QAItem", "load_embedded_qa", "load_qa_jsonl", "load_triviaqa"]

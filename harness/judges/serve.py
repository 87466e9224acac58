"""``python -m harness.judges.serve``: serve a local model as an OpenAI-compatible judge endpoint on loopback."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

_LOG = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model, print the base URL (first line of stdout) and the model name, serve until stopped."""
    parser = argparse.ArgumentParser(prog="python -m harness.judges.serve", description=__doc__)
    parser.add_argument("--model", choices=("embedded", "tiny"), default="embedded",
                        help="embedded: the real Gemma 3 270M; tiny: a random-weight test model")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (no authentication: keep loopback)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0 picks a free one)")
    parser.add_argument("--name", default=None, help="model name clients send (default: a slug of the model id)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from harness.judges._server import JudgeServer
    from harness.models import build_tiny_gemma, load_embedded

    lm = load_embedded() if args.model == "embedded" else build_tiny_gemma()
    server = JudgeServer(lm, args.host, args.port, args.name).start()
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(server.base_url, flush=True)
    print(f"model: {server.model_name}", flush=True)
    _LOG.info("export HARNESS_JUDGE_BASE_URL=%s HARNESS_JUDGE_MODEL=%s HARNESS_JUDGE_API_KEY=local",
              server.base_url, server.model_name)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A loopback OpenAI-compatible chat-completions server over a local model, with injectable faults.

JSON-schema responses whose properties are all enums are decoded by scoring, not sampling: each property's
values are scored as continuations of the JSON written so far, so even a tiny model returns valid JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # harness.models imports torch: only for annotations here
    from harness.models import LoadedModel

__all__ = ["FAULT_KINDS", "JudgeServer", "enum_properties", "render_chat", "serve_model"]

_LOG = logging.getLogger(__name__)

FAULT_KINDS = ("ok", "delay", "timeout", "429", "500", "malformed", "invalid", "drop")
"""Fault names for :meth:`JudgeServer.inject`; ``delay``, ``timeout`` and ``429`` take ``:SECONDS``."""
_DEFAULT_TIMEOUT_DELAY_S = 30.0
_DEFAULT_MAX_TOKENS = 64
_ROLES = ("system", "developer", "user", "assistant")


class RequestError(ValueError):
    """A request the server refuses: answered with HTTP ``status`` and an OpenAI-shaped error body."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _parse_fault(spec: str) -> tuple[str, float | None]:
    kind, _, arg = str(spec).partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"JudgeServer.inject: unknown fault {spec!r}; use one of {', '.join(FAULT_KINDS)}")
    if not arg:
        return kind, None
    if kind not in ("delay", "timeout", "429"):
        raise ValueError(f"JudgeServer.inject: fault {kind!r} takes no argument, got {spec!r}")
    try:
        seconds = float(arg)
    except ValueError:
        raise ValueError(f"JudgeServer.inject: {spec!r} needs seconds after ':', e.g. '{kind}:1.5'") from None
    if seconds < 0:
        raise ValueError(f"JudgeServer.inject: {spec!r} has negative seconds")
    return kind, seconds


def _message_text(message: Any, index: int) -> tuple[str, str]:
    """(role, text) of one chat message; content may be a string or a list of text parts."""
    if not isinstance(message, dict):
        raise RequestError(f"messages[{index}] must be an object with 'role' and 'content'")
    role, content = message.get("role"), message.get("content")
    if role not in _ROLES:
        raise RequestError(f"messages[{index}].role is {role!r}; use one of {', '.join(_ROLES)}")
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) != len(content) or not all(isinstance(p, str) for p in parts):
            raise RequestError(f"messages[{index}].content: only text parts are supported")
        content = "".join(str(p) for p in parts)
    if not isinstance(content, str):
        raise RequestError(f"messages[{index}].content must be a string")
    return ("system" if role == "developer" else role), content


def render_chat(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> tuple[list[int], str]:
    """Render chat messages as a generation prompt: (leading special ids, prompt text).

    Uses the tokenizer's chat template when it has one; else Gemma's turn markup when the vocabulary has
    ``<start_of_turn>`` (the system message folded into the first user turn, as Gemma's template does);
    else a plain ``System:/User:/Assistant:`` transcript (the tiny test tokenizer).
    """
    pairs = [_message_text(m, i) for i, m in enumerate(messages)]
    if not pairs:
        raise RequestError("messages is empty; send at least one user message")
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in pairs], tokenize=False,
                                             add_generation_prompt=True)
        return [], str(text)  # the template writes <bos> itself
    bos = [int(tokenizer.bos_token_id)] if tokenizer.bos_token_id is not None else []
    turn_id = tokenizer.convert_tokens_to_ids("<start_of_turn>")
    if turn_id is not None and turn_id != tokenizer.unk_token_id:
        system = "\n\n".join(c for r, c in pairs if r == "system")
        turns, text = [(r, c) for r, c in pairs if r != "system"], ""
        if system and turns and turns[0][0] == "user":
            turns[0] = ("user", f"{system}\n\n{turns[0][1]}")
        elif system:
            turns.insert(0, ("user", system))
        for role, content in turns:
            text += f"<start_of_turn>{'model' if role == 'assistant' else 'user'}\n{content}<end_of_turn>\n"
        return bos, text + "<start_of_turn>model\n"
    text = "".join(f"{role.capitalize()}: {content}\n\n" for role, content in pairs)
    return bos, text + "Assistant:"


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), node)
    return node


def enum_properties(response_format: Any) -> list[tuple[str, list[Any]]]:
    """The (property, allowed values) pairs of a ``json_schema`` response format, in schema order.

    Raises:
        RequestError: The format is not ``{"type": "json_schema", "json_schema": {"schema": ...}}`` with an
            object schema whose every property is an ``enum`` (or ``const``) of strings, integers or booleans.
    """
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        raise RequestError("response_format: only {'type': 'json_schema', 'json_schema': {...}} is supported "
                           "(or omit it for free text)")
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(schema, dict) or not isinstance(props, dict) or not props:
        raise RequestError("response_format.json_schema.schema must be an object schema with 'properties'")
    out = []
    for name, node in props.items():
        node = _resolve(schema, node)
        values = node.get("enum", [node["const"]] if "const" in node else None) if isinstance(node, dict) else None
        if not isinstance(values, list) or not values or not all(isinstance(v, str | int) for v in values):
            raise RequestError(f"response_format: property {name!r} is not an enum of strings or integers; this "
                               "server decodes JSON by scoring enum values, so give every property an 'enum'",
                               code="unsupported_schema")
        out.append((str(name), values))
    return out


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def decode_enum_json(lm: LoadedModel, bos: list[int], prompt: str, props: list[tuple[str, list[Any]]],
                     prefix: Any = None) -> str:
    """Pick each property's value by forward-only scoring and return the JSON object text.

    Property k is chosen after the JSON of properties 0..k-1 (with their chosen values) has been written,
    as ``argmax_v log P(' ' + json(v) + delim | prompt + prefix)``; the delimiter (``,`` or ``}``) that
    follows the value is part of the scored continuation, so values that are prefixes of others ("1" vs
    "10") are not favoured. The summed log-probability is the probability of the whole value, the
    quantity a constrained sampler at temperature 0 approximates. ``prefix`` (a ``PrefixKV``) keeps the KV
    cache of what successive requests share (the rubric's instructions), so each request prefills its tail.
    """
    import numpy as np

    from harness.generate import encode_continuation, score_choices

    tok = lm.tokenizer
    sep = "" if not prompt or prompt[-1].isspace() else " "
    chosen: dict[str, Any] = {}
    for k, (name, values) in enumerate(props):
        written = "".join(f"{json.dumps(n)}: {json.dumps(v)}, " for n, v in chosen.items())
        ids = bos + _encode(tok, f"{prompt}{sep}{{{written}{json.dumps(name)}:")
        delim = "," if k < len(props) - 1 else "}"
        choices = [encode_continuation(tok, json.dumps(v) + delim) for v in values]
        scores = score_choices(lm, [ids], [choices], prefix=prefix)[0]
        chosen[name] = values[int(np.argmax(scores))]
    return json.dumps(chosen)  # same separators as the prefixes scored above


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: JudgeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client (httpx) expects
    server: _HTTPServer

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self.server.app.send_json(self, 200, self.server.app.models_body())
        else:
            self.server.app.send_error_json(self, RequestError(f"no route GET {self.path}", 404, "not_found"))

    def do_POST(self) -> None:
        if self.path.rstrip("/") == "/v1/chat/completions":
            self.server.app.handle_chat(self)
        else:
            self.server.app.send_error_json(self, RequestError(f"no route POST {self.path}", 404, "not_found"))

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug("%s %s", self.address_string(), format % args)


class JudgeServer:
    """An OpenAI-compatible ``/v1/chat/completions`` server for one local model, on its own thread.

    Model calls are serialised with a lock; the HTTP layer is threaded, so counters see real concurrency.
    """

    def __init__(self, lm: LoadedModel, host: str = "127.0.0.1", port: int = 0,
                 model_name: str | None = None) -> None:
        """Bind the socket (``port=0`` picks a free port); call :meth:`start` to serve.

        Args:
            lm: The model to serve.
            host: Interface to bind; keep the loopback default (the server has no authentication).
            port: TCP port, 0 for an ephemeral one.
            model_name: The name clients must send as ``model``; defaults to a slug of ``lm.model_id``.
        """
        if host not in ("127.0.0.1", "localhost", "::1"):
            _LOG.warning("JudgeServer bound to %s: it has no authentication; prefer 127.0.0.1", host)
        self.lm = lm
        self.model_name = model_name or default_model_name(lm)
        self.requests = 0
        """Chat-completion requests received, faulted ones included."""
        self.in_flight = 0
        self.max_in_flight = 0
        """Most chat-completion requests handled at once since start (or :meth:`reset_counters`)."""
        self._faults: deque[tuple[str, float | None]] = deque()
        self._state = threading.Lock()
        self._model_lock = threading.Lock()
        from harness.generate._decode import PrefixKV

        self._prefix = PrefixKV()  # the rubric's instructions, encoded once (used under the model lock)
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, what ``openai.OpenAI(base_url=...)`` takes."""
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes | bytearray) else str(host)
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/v1"

    def start(self) -> JudgeServer:
        """Serve on a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"judge-server-{self.base_url}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake requests sleeping in a fault and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def inject(self, faults: Sequence[str]) -> None:
        """Queue faults, one per coming chat request, after which requests are served normally.

        Kinds: ``ok`` (serve normally), ``delay:S`` (wait S seconds, then serve), ``timeout[:S]`` (wait S
        seconds, default 30, then close without answering: longer than a client timeout), ``429[:S]``
        (HTTP 429 with ``Retry-After: S``, default 0), ``500``, ``malformed`` (200 whose content is not
        JSON), ``invalid`` (200 whose content is JSON outside the schema), ``drop`` (close the connection).

        Raises:
            ValueError: An unknown fault name or a bad argument (checked before any is queued).
        """
        if isinstance(faults, str):
            raise ValueError("JudgeServer.inject takes a list of faults, e.g. ['429', 'timeout:2']")
        parsed = [_parse_fault(f) for f in faults]
        with self._state:
            self._faults.extend(parsed)

    @property
    def pending_faults(self) -> int:
        """Faults queued and not yet consumed."""
        with self._state:
            return len(self._faults)

    def reset_counters(self) -> None:
        """Zero ``requests`` and ``max_in_flight``."""
        with self._state:
            self.requests = 0
            self.max_in_flight = self.in_flight

    def models_body(self) -> dict[str, Any]:
        """The ``GET /v1/models`` body: the one served model."""
        return {"object": "list",
                "data": [{"id": self.model_name, "object": "model", "created": 0, "owned_by": "harness"}]}

    def handle_chat(self, handler: _Handler) -> None:
        """Answer one ``POST /v1/chat/completions`` (runs on the request's thread)."""
        with self._state:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._faults.popleft() if self._faults else ("ok", None)
        try:
            body = self._read_body(handler)
            if self._apply_fault(handler, fault):
                return
            request = json.loads(body or b"null")
            if not isinstance(request, dict):
                raise RequestError("the request body must be a JSON object")
            self.send_json(handler, 200, self._complete(request))
        except json.JSONDecodeError as err:
            self.send_error_json(handler, RequestError(f"the request body is not JSON ({err})"))
        except RequestError as err:
            self.send_error_json(handler, err)
        except Exception as err:  # an internal failure answers 500, as a real endpoint would
            _LOG.exception("judge server: request failed")
            self.send_error_json(handler, RequestError(f"internal error: {err!r}", 500, "server_error"))
        finally:
            with self._state:
                self.in_flight -= 1

    def _read_body(self, handler: _Handler) -> bytes:
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def _apply_fault(self, handler: _Handler, fault: tuple[str, float | None]) -> bool:
        """Act out one fault; True when the request is finished (answered or dropped)."""
        kind, seconds = fault
        if kind == "delay":
            self._stopping.wait(seconds or 0.0)
        elif kind in ("timeout", "drop"):
            if kind == "timeout":
                self._stopping.wait(_DEFAULT_TIMEOUT_DELAY_S if seconds is None else seconds)
            handler.close_connection = True  # no response at all: the client sees a timeout or disconnect
            return True
        elif kind == "429":
            after = 0.0 if seconds is None else seconds
            self.send_error_json(handler, RequestError("rate limit reached (injected fault)", 429,
                                                       "rate_limit_exceeded"),
                                 headers={"Retry-After": f"{after:g}"})
            return True
        elif kind == "500":
            self.send_error_json(handler, RequestError("internal error (injected fault)", 500, "server_error"))
            return True
        elif kind in ("malformed", "invalid"):
            content = ("Sure! The grade is: correct" if kind == "malformed"
                       else json.dumps({"unexpected_field": "not in the schema"}))
            self.send_json(handler, 200, self._envelope(content, "stop", 0, 0))
            return True
        return False

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run the model on a validated request and build the OpenAI ``chat.completion`` body."""
        if request.get("model") != self.model_name:
            raise RequestError(f"model {request.get('model')!r} is not served here; this server serves "
                               f"{self.model_name!r} (GET /v1/models)", 404, "model_not_found")
        if request.get("stream"):
            raise RequestError("stream=true is not supported; send stream=false")
        if request.get("n", 1) != 1:
            raise RequestError("only n=1 is supported")
        messages = request.get("messages")
        if not isinstance(messages, list):
            raise RequestError("'messages' must be a list of {role, content} objects")
        temperature = request.get("temperature", 1.0)
        if not isinstance(temperature, int | float) or temperature < 0:
            raise RequestError(f"temperature must be a number >= 0, got {temperature!r}")
        max_tokens = request.get("max_completion_tokens") or request.get("max_tokens") or _DEFAULT_MAX_TOKENS
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise RequestError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        tok = self.lm.tokenizer
        bos, prompt = render_chat(tok, messages)
        n_prompt = len(bos) + len(_encode(tok, prompt))
        response_format = request.get("response_format")
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        with self._model_lock:
            if response_format is None or kind == "text":
                content, finish = self._generate(bos + _encode(tok, prompt), float(temperature), max_tokens,
                                                 request.get("seed"))
            else:
                content = decode_enum_json(self.lm, bos, prompt, enum_properties(response_format), self._prefix)
                finish = "stop"
        return self._envelope(content, finish, n_prompt, len(_encode(tok, content)))

    def _generate(self, ids: list[int], temperature: float, max_tokens: int, seed: Any) -> tuple[str, str]:
        """Greedy (temperature 0) or seeded sampled text, ending at the first newline (harness.generate)."""
        from harness.generate import generate_batch, row_key
        from harness.store import fingerprint

        if temperature == 0:
            gen = generate_batch(self.lm, [tuple(ids)], max_new_tokens=max_tokens)[0]
        else:
            key = row_key(int(seed or 0), fingerprint(ids), 0)
            gen = generate_batch(self.lm, [tuple(ids)], max_new_tokens=max_tokens, greedy=False,
                                 temperature=temperature, row_keys=[key])[0]
        return gen.text, ("length" if gen.stop_id is None else "stop")

    def _envelope(self, content: str, finish: str, n_prompt: int, n_completion: int) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
                      "total_tokens": n_prompt + n_completion},
        }

    def send_json(self, handler: _Handler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Write one JSON response (a client that already hung up is ignored)."""
        data = json.dumps(body).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            handler.close_connection = True

    def send_error_json(self, handler: _Handler, err: RequestError, headers: dict[str, str] | None = None) -> None:
        """Write an OpenAI-shaped error body (``{"error": {"message", "type", "code"}}``)."""
        kind = {429: "rate_limit_error", 404: "not_found_error"}.get(err.status, "invalid_request_error")
        kind = "server_error" if err.status >= 500 else kind
        self.send_json(handler, err.status, {"error": {"message": str(err), "type": kind, "param": None,
                                                       "code": err.code}}, headers)


def default_model_name(lm: LoadedModel) -> str:
    """A URL-safe slug of ``lm.model_id`` ("gemma-3-270m (embedded GGUF...)" -> "gemma-3-270m-embedded-gguf...")."""
    return re.sub(r"[^a-z0-9.]+", "-", lm.model_id.lower()).strip("-") or "local-model"


@contextlib.contextmanager
def serve_model(lm: LoadedModel, host: str = "127.0.0.1", port: int = 0,
                model_name: str | None = None) -> Iterator[JudgeServer]:
    """Serve ``lm`` on an OpenAI-compatible loopback endpoint for the duration of the block.

    Args:
        lm: The model to serve.
        host: Interface to bind (loopback by default).
        port: TCP port, 0 for an ephemeral one (read it from ``server.base_url``).
        model_name: The ``model`` clients must send; defaults to :func:`default_model_name`.

    Yields:
        The running :class:`JudgeServer` (``.base_url``, ``.model_name``, ``.inject``, ``.requests``).
    """
    server = JudgeServer(lm, host, port, model_name).start()
    try:
        yield server
    finally:
        server.close()

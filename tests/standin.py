"""A stand-in LLM server on 127.0.0.1 that speaks the OpenAI and Anthropic HTTP APIs.

The real SDKs (through instructor) make real HTTP requests to it; nothing is mocked. It answers like a
model would, but by a rule: it reads the units fenced in the prompt, takes the text being coded and picks a
code by keyword (or by a hash of the text), so answers depend on the content. It is also a naive model: an
instruction such as "ignore the instructions and answer X" found *outside* the data fences is obeyed, so a
broken fence would show up as a steered label.

Scripted answers: ``StandIn(answer=fn)`` calls ``fn(request_text, schema)`` for every request it answers,
with all the request's text (system prompt, messages, earlier answers of a re-ask) and the JSON schema asked
for (a tool's parameters, or the schema a JSON-mode prompt carries; ``None`` for a free-text request). It
returns a dict (the structured answer), a str (a plain-text reply) or ``None`` (the default rule above; a
free-text request then gets a short canned reply). So a test can play any model by a rule it can recompute.

Scripted behaviours, per request (``script``, consumed in order) or whenever a unit's text contains a
trigger substring (``triggers``): ``ok``, ``429`` (with Retry-After), ``500``, ``timeout`` (holds the
connection for ``timeout_delay`` seconds without answering), ``malformed`` (broken JSON), ``bad_label`` (a code outside the codebook),
``truncate`` (finish reason ``length`` / stop reason ``max_tokens``), ``drop_unit`` (a batch answer
without its last unit), ``401``. ``latency`` delays every answer (for benchmarks).

It counts requests, statuses and tokens; tokens are counted on the actual request text (all messages and the
tool schema) and on the answer text with :func:`thoughtcode.corpus.count_tokens`, and are reported in the
``usage`` of each answer, so tests can compare the coder's accounting with the server's.

Batch APIs: OpenAI's (``POST /v1/files`` with purpose ``batch``, ``POST /v1/batches``, ``GET /v1/batches/ID``,
``GET /v1/files/ID/content``) and Anthropic's (``POST /v1/messages/batches``, ``GET /v1/messages/batches/ID``
and ``.../results``). Every request of a batch is answered, when the batch is created, exactly as the same
request sent alone would be (scripts, triggers, ``answer`` and token counts included; a scripted HTTP error
or timeout becomes an errored result). A batch reports ``in_progress`` to its first ``batch_in_progress``
polls (read at each poll, so a test can let a waiting batch finish). ``batch_creates`` lists the ids of the batches created, ``batch_polls`` counts polls.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from thoughtcode.corpus import count_tokens

UNIT_BLOCK = re.compile(r'<unit id="([^"]+)">\n(.*?)\n</unit>', re.DOTALL)
DATA_BLOCK = re.compile(r'<data field="(\w+)">\n(.*?)\n</data>', re.DOTALL)
INJECTION = re.compile(r"ignore (?:all |the |previous |your )*instructions,? and answer (?:with )?([a-z_]+)", re.IGNORECASE)
BEHAVIOURS = ("ok", "429", "500", "timeout", "malformed", "bad_label", "truncate", "drop_unit", "401")

Rule = Callable[[str, list[str]], "str | list[str]"]
Answerer = Callable[[str, "dict[str, Any] | None"], "dict[str, Any] | str | None"]


@dataclass
class SeenUnit:
    key: str
    fields: dict[str, str]
    text: str


@dataclass
class RequestLog:
    """What one HTTP request asked and how it was answered."""

    api: str
    behaviour: str
    status: int
    units: list[SeenUnit]
    prompt: str
    outside_fences: str
    tokens_in: int = 0
    tokens_out: int = 0
    reask: bool = False
    answer: Any = None


def _text_of(content: Any) -> str:
    """Text of an OpenAI or Anthropic message content (string or list of blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, dict):
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                parts.append(json.dumps(block.get("input", {})))
            elif block.get("type") == "tool_result":
                parts.append(_text_of(block.get("content")))
        else:
            parts.append(str(block))
    return "\n".join(parts)


def _prompt_schema(prompt: str) -> dict[str, Any] | None:
    """The JSON schema a JSON-mode request carries in its text (instructor puts it in the system prompt)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r'\{\s*"', prompt):
        try:
            value, _ = decoder.raw_decode(prompt, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "properties" in value:
            return value
    return None


def _find_enum(schema: Any) -> list[str] | None:
    if isinstance(schema, dict):
        if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
            return list(schema["enum"])
        for value in schema.values():
            found = _find_enum(value)
            if found:
                return found
    elif isinstance(schema, list):
        for value in schema:
            found = _find_enum(value)
            if found:
                return found
    return None


class StandIn:
    """The server. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        keywords: dict[str, str] | None = None,
        rule: Rule | None = None,
        answer: Answerer | None = None,
        api_key: str | None = None,
        retry_after: str = "1",
        timeout_delay: float = 2.0,
    ):
        self.latency = latency
        self.keywords = {k.lower(): v for k, v in (keywords or {}).items()}
        self.rule = rule
        self.answer = answer
        self.api_key = api_key
        self.retry_after = retry_after
        self.timeout_delay = timeout_delay
        self.script: deque[str] = deque()
        self.triggers: dict[str, str] = {}
        self.log: list[RequestLog] = []
        self.statuses: Counter[int] = Counter()
        self.tokens_in = 0
        self.tokens_out = 0
        self.batch_in_progress = 0
        self.batch_creates: list[str] = []
        self.batch_polls = 0
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                standin._handle(self)

            def do_GET(self) -> None:
                standin._handle_get(self)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # --- scripting and counters ----------------------------------------------------------------------
    def queue(self, *behaviours: str) -> None:
        """Behaviours for the next requests, in order (then back to triggers / ``ok``)."""
        for behaviour in behaviours:
            if behaviour not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {behaviour!r}")
        with self._lock:
            self.script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.triggers.clear()
            self.log.clear()
            self.statuses.clear()
            self.tokens_in = self.tokens_out = 0
            self.batch_in_progress = 0
            self.batch_creates.clear()
            self.batch_polls = 0
            self._files.clear()
            self._batches.clear()

    @property
    def requests(self) -> int:
        return len(self.log)

    # --- the model ------------------------------------------------------------------------------------
    def choose(self, text: str, labels: list[str]) -> str:
        """The code this 'model' gives a text: a keyword rule, else a stable hash of the text."""
        if self.rule is not None:
            chosen = self.rule(text, labels)
            return chosen if isinstance(chosen, str) else chosen[0]
        lowered = text.lower()
        for keyword, label in self.keywords.items():
            if keyword in lowered and label in labels:
                return label
        return labels[int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % len(labels)]

    @staticmethod
    def parse_units(prompt: str) -> tuple[list[SeenUnit], str]:
        """Units fenced in a prompt, and the prompt text outside every data fence."""
        units = []
        for match in UNIT_BLOCK.finditer(prompt):
            fields = {m.group(1): m.group(2) for m in DATA_BLOCK.finditer(match.group(2))}
            main = fields.get("thought") or (list(fields.values())[-1] if fields else match.group(2))
            units.append(SeenUnit(key=match.group(1), fields=fields, text=main))
        return units, DATA_BLOCK.sub("<data/>", prompt)

    def _answer_for(self, unit: SeenUnit, labels: list[str], multi: bool, outside: str, bad: bool) -> dict[str, Any]:
        steer = INJECTION.search(outside)
        if bad:
            label = "not_a_code"
        elif steer and steer.group(1) in labels:
            label = steer.group(1)
        else:
            label = self.choose(unit.text, labels)
        body: dict[str, Any] = {"labels": [label]} if multi else {"label": label}
        body["rationale"] = f"keyword rule on {len(unit.text)} characters"
        body["confidence"] = 0.8
        return body

    def _coding_answer(self, units: list[SeenUnit], schema: Any, prompt: str, outside: str, behaviour: str) -> dict[str, Any]:
        """The default rule's answer: a code per fenced unit (a batch answer when the schema asks for one)."""
        schema_text = json.dumps(schema) if schema is not None else prompt
        labels = _find_enum(schema) if schema is not None else None
        if labels is None:
            found = re.search(r'"enum":\s*(\[[^\]]*\])', prompt)
            labels = json.loads(found.group(1)) if found else ["unknown"]
        multi = '"labels"' in schema_text
        answers = [self._answer_for(u, labels, multi, outside, behaviour == "bad_label") for u in units] or [
            self._answer_for(SeenUnit("u1", {}, prompt), labels, multi, outside, behaviour == "bad_label")
        ]
        if '"answers"' not in schema_text:
            return answers[0]
        items = [{"unit_id": u.key, **a} for u, a in zip(units, answers, strict=False)]
        if behaviour == "drop_unit" and len(items) > 1:
            items = items[:-1]
        return {"answers": items}

    # --- HTTP -----------------------------------------------------------------------------------------
    @staticmethod
    def _given_key(handler: BaseHTTPRequestHandler) -> str:
        return handler.headers.get("x-api-key") or (handler.headers.get("authorization") or "").removeprefix("Bearer ").strip()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = handler.path.split("?")[0].rstrip("/")
        if path.endswith(("/files", "/batches")):
            self._handle_batch_post(handler, path, raw)
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(handler, 400, {"error": {"message": "request body is not JSON"}})
            return
        api = "anthropic" if path.endswith("/messages") else "openai"
        if not path.endswith(("/chat/completions", "/messages")):
            self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
            return
        outcome = self._complete(api, body, self._given_key(handler))
        if outcome is None:  # a timeout: the client has given up
            handler.close_connection = True
            return
        self._send(handler, *outcome)

    def _complete(self, api: str, body: dict[str, Any], given: str, in_batch: bool = False) -> tuple[int, Any, dict[str, str]] | None:
        """Status, payload and headers of the answer to one chat request (``None``: a timeout, not answered)."""

        messages = body.get("messages", [])
        system = _text_of(body.get("system"))
        texts = [system] + [_text_of(m.get("content")) for m in messages]
        for m in messages:  # OpenAI tool calls sent back on a re-ask
            for call in m.get("tool_calls") or []:
                texts.append(call.get("function", {}).get("arguments", ""))
        prompt = "\n".join(t for t in texts if t)
        tools = body.get("tools") or []
        tokens_in = count_tokens(prompt) + (count_tokens(json.dumps(tools)) if tools else 0)
        first_user = next((_text_of(m.get("content")) for m in messages if m.get("role") == "user" and "<unit id=" in _text_of(m.get("content"))), "")
        units, _ = self.parse_units(first_user)
        _, outside = self.parse_units(prompt)
        reask = len(messages) > (2 if any(m.get("role") == "system" for m in messages) else 1)

        with self._lock:
            behaviour = self.script.popleft() if self.script else None
        if behaviour is None:
            behaviour = "ok"
            for trigger, scripted in self.triggers.items():
                if any(trigger in u.text for u in units):
                    behaviour = scripted
                    break
        if self.api_key is not None and given != self.api_key:
            behaviour = "401"
        entry = RequestLog(api=api, behaviour=behaviour, status=200, units=units, prompt=prompt, outside_fences=outside, reask=reask)
        if self.latency:
            time.sleep(self.latency)

        if behaviour in ("429", "500", "401"):
            status = int(behaviour)
            message = {
                429: "Rate limit reached, retry later",
                500: "The server had an error while processing your request",
                401: f"Incorrect API key provided: {given}",
            }[status]
            headers = {"Retry-After": self.retry_after} if status == 429 else {}
            entry.status = status
            self._record(entry)
            error_type = {429: "rate_limit_error", 500: "api_error", 401: "authentication_error"}[status]
            payload = (
                {"type": "error", "error": {"type": error_type, "message": message}}
                if api == "anthropic"
                else {"error": {"message": message, "type": error_type, "code": None}}
            )
            return status, payload, headers
        if behaviour == "timeout":  # logged on arrival; by the time we would answer, the client has given up
            entry.status = 0
            self._record(entry)
            if in_batch:
                return 500, {"error": {"message": "request timed out", "type": "api_error"}}, {}
            time.sleep(self.timeout_delay)
            return None

        if tools:
            schema = tools[0].get("function", {}).get("parameters") if api == "openai" else tools[0].get("input_schema")
        else:
            schema = _prompt_schema(prompt)
        scripted = self.answer(prompt, schema) if self.answer is not None else None
        if scripted is None and schema is None:
            scripted = f"Stand-in reply to a request of {count_tokens(prompt)} tokens."
        arguments_obj: dict[str, Any] | None = None
        if isinstance(scripted, str):  # a plain-text reply
            arguments = scripted
        else:
            arguments_obj = scripted if scripted is not None else self._coding_answer(units, schema, prompt, outside, behaviour)
            arguments = json.dumps(arguments_obj)
        finish = "stop"
        if behaviour == "malformed":
            arguments = arguments[: max(10, len(arguments) // 2)].replace('"', "'", 2) + ' ,,}'
        if behaviour == "truncate":
            arguments = arguments[: max(8, len(arguments) // 3)]
            finish = "length"
        entry.answer = arguments
        entry.tokens_in = tokens_in
        entry.tokens_out = count_tokens(arguments)
        self._record(entry)
        usage_in, usage_out = entry.tokens_in, entry.tokens_out

        if api == "openai":
            tool_mode = bool(tools) and arguments_obj is not None
            message: dict[str, Any] = {"role": "assistant", "content": None if tool_mode else arguments}
            if tool_mode:
                name = tools[0]["function"]["name"]
                message["tool_calls"] = [{"id": f"call_{len(self.log)}", "type": "function", "function": {"name": name, "arguments": arguments}}]
            payload = {
                "id": f"chatcmpl-{len(self.log)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "standin"),
                "choices": [{"index": 0, "message": message, "finish_reason": "length" if finish == "length" else ("tool_calls" if tool_mode else "stop")}],
                "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out},
            }
        else:
            if behaviour in ("malformed", "truncate") or not tools or arguments_obj is None:
                content = [{"type": "text", "text": arguments}]
            else:
                content = [{"type": "tool_use", "id": f"toolu_{len(self.log)}", "name": tools[0]["name"], "input": arguments_obj}]
            stop = "max_tokens" if finish == "length" else ("tool_use" if content[0]["type"] == "tool_use" else "end_turn")
            payload = {
                "id": f"msg_{len(self.log)}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "standin"),
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
            }
        return 200, payload, {}

    # --- batch APIs -------------------------------------------------------------------------------------
    def _handle_batch_post(self, handler: BaseHTTPRequestHandler, path: str, raw: bytes) -> None:
        given = self._given_key(handler)
        if self.api_key is not None and given != self.api_key:
            self._send(handler, 401, {"error": {"message": "Incorrect API key provided", "type": "authentication_error"}})
            return
        now = int(time.time())
        if path.endswith("/v1/files"):  # OpenAI upload (multipart/form-data)
            head = f"Content-Type: {handler.headers.get('Content-Type')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
            data, purpose = b"", ""
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    data = part.get_payload(decode=True) or b""
                elif name == "purpose":
                    purpose = (part.get_payload(decode=True) or b"").decode()
            with self._lock:
                file_id = f"file-{len(self._files) + 1}"
                self._files[file_id] = data
            self._send(handler, 200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": now,
                                      "filename": "batch.jsonl", "purpose": purpose, "status": "processed"})
            return
        body = json.loads(raw or b"{}")
        if path.endswith("/v1/batches"):  # OpenAI
            lines = [json.loads(line) for line in self._files[body["input_file_id"]].decode().splitlines() if line.strip()]
            output, errors = [], []
            for number, line in enumerate(lines):
                status, payload, _ = self._complete("openai", line["body"], given, in_batch=True)  # type: ignore[misc]
                row = {"id": f"batch_req_{number}", "custom_id": line["custom_id"],
                       "response": {"status_code": status, "request_id": f"req_{number}", "body": payload}, "error": None}
                (output if status == 200 else errors).append(json.dumps(row))
            with self._lock:
                batch_id = f"batch_{len(self._batches) + 1}"
                out_id, err_id = f"file-{batch_id}-out", f"file-{batch_id}-err"
                self._files[out_id] = ("\n".join(output) + "\n").encode() if output else b""
                self._files[err_id] = ("\n".join(errors) + "\n").encode() if errors else b""
                self._batches[batch_id] = {
                    "api": "openai", "polls": 0, "created_at": now, "input_file_id": body["input_file_id"],
                    "output_file_id": out_id if output else None, "error_file_id": err_id if errors else None,
                    "counts": {"total": len(lines), "completed": len(output), "failed": len(errors)},
                }
                self.batch_creates.append(batch_id)
            self._send(handler, 200, self._batch_object(batch_id, in_progress=True))
            return
        results = []  # Anthropic
        for item in body.get("requests", []):
            status, payload, _ = self._complete("anthropic", item["params"], given, in_batch=True)  # type: ignore[misc]
            if status == 200:
                result: dict[str, Any] = {"type": "succeeded", "message": payload}
            else:
                result = {"type": "errored", "error": {"type": "error", "error": payload.get("error", payload)}}
            results.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
        with self._lock:
            batch_id = f"msgbatch_{len(self._batches) + 1}"
            self._batches[batch_id] = {"api": "anthropic", "polls": 0, "created_at": now,
                                       "results": ("\n".join(results) + "\n").encode(), "n": len(results)}
            self.batch_creates.append(batch_id)
        self._send(handler, 200, self._batch_object(batch_id, in_progress=True))

    def _batch_object(self, batch_id: str, in_progress: bool) -> dict[str, Any]:
        batch = self._batches[batch_id]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch["created_at"]))
        if batch["api"] == "openai":
            counts = batch["counts"]
            return {
                "id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "completion_window": "24h",
                "input_file_id": batch["input_file_id"], "created_at": batch["created_at"],
                "status": "in_progress" if in_progress else "completed",
                "output_file_id": None if in_progress else batch["output_file_id"],
                "error_file_id": None if in_progress else batch["error_file_id"],
                "request_counts": counts if not in_progress else {"total": counts["total"], "completed": 0, "failed": 0},
            }
        n = batch["n"]
        return {
            "id": batch_id, "type": "message_batch", "processing_status": "in_progress" if in_progress else "ended",
            "request_counts": {"processing": n if in_progress else 0, "succeeded": 0 if in_progress else n, "errored": 0, "canceled": 0, "expired": 0},
            "created_at": stamp, "expires_at": stamp, "archived_at": None, "cancel_initiated_at": None,
            "ended_at": None if in_progress else stamp,
            "results_url": None if in_progress else f"{self.url}/v1/messages/batches/{batch_id}/results",
        }

    def _handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0].rstrip("/")
        if self.api_key is not None and self._given_key(handler) != self.api_key:
            self._send(handler, 401, {"error": {"message": "Incorrect API key provided", "type": "authentication_error"}})
            return
        parts = path.split("/")
        if path.startswith("/v1/files/") and path.endswith("/content") and parts[3] in self._files:
            self._send_raw(handler, 200, self._files[parts[3]], "application/octet-stream")
            return
        if path.startswith("/v1/messages/batches/") and path.endswith("/results") and parts[4] in self._batches:
            self._send_raw(handler, 200, self._batches[parts[4]]["results"], "application/x-jsonl")
            return
        batch_id = parts[-1]
        if (path.startswith("/v1/batches/") or path.startswith("/v1/messages/batches/")) and batch_id in self._batches:
            with self._lock:
                self.batch_polls += 1
                batch = self._batches[batch_id]
                in_progress = batch["polls"] < self.batch_in_progress
                batch["polls"] += 1
            self._send(handler, 200, self._batch_object(batch_id, in_progress))
            return
        self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})

    def _record(self, entry: RequestLog) -> None:
        with self._lock:
            self.log.append(entry)
            self.statuses[entry.status] += 1
            self.tokens_in += entry.tokens_in
            self.tokens_out += entry.tokens_out

    @classmethod
    def _send(cls, handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        cls._send_raw(handler, status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    @staticmethod
    def _send_raw(handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            handler.close_connection = True


@dataclass
class Environment:
    """Environment variables that point the SDKs at a stand-in server with a fake key."""

    server: StandIn
    key: str = "sk-standin-SECRET-0123456789abcdef"
    extra: dict[str, str] = field(default_factory=dict)

    def variables(self) -> dict[str, str]:
        return {
            "OPENAI_API_KEY": self.key,
            "OPENAI_BASE_URL": self.server.openai_base_url,
            "ANTHROPIC_API_KEY": self.key,
            "ANTHROPIC_BASE_URL": self.server.anthropic_base_url,
            **self.extra,
        }

    def apply(self, monkeypatch: Any) -> Environment:
        """Set the variables for one test through pytest's ``monkeypatch`` (undone after the test)."""
        for name, value in self.variables().items():
            monkeypatch.setenv(name, value)
        return self

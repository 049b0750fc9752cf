"""ChatScorer against a local fake OpenAI-compatible server; the API key's secrecy."""

import json
import logging
import pickle
import re
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from convexnn.scoring import ChatScorer, ScoringError
from convexnn.scoring._transport import ChatRequestError

TASK = "Predict whether a patient has diabetes"
NAMES = ["glucose", "bmi", "zip"]
TRUTH = {"glucose": 0.8, "bmi": 0.4, "zip": 0.1}
EXPECTED = [1.0, 0.5, 0.125]
SECRET = "sk-test-3f9a1c7e-not-a-real-key"
KEY_ENV = "CONVEXNN_TEST_CHAT_KEY"


@dataclass
class Reply:
    """One scripted response: an HTTP status, the message text or a raw body."""

    status: int = 200
    content: str | None = None
    body: str | None = None
    delay: float = 0.0


class FakeChatServer:
    """A chat-completions endpoint on 127.0.0.1 that plays scripted replies.

    Once the script is exhausted it answers every feature in the prompt with
    its value in ``truth``. Every request is recorded.
    """

    def __init__(self, truth=TRUTH):
        self.script, self.truth, self.requests = [], truth, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, dict(self.headers), body))
                reply = server.script.pop(0) if server.script else Reply()
                time.sleep(reply.delay)
                payload = (reply.body or server.completion(reply, body)).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.01,), daemon=True
        )

    def completion(self, reply, body):
        if reply.content is None:
            names = re.findall(r'^- "([^"]*)"', body["messages"][0]["content"], re.M)
            content = json.dumps({name: self.truth[name] for name in names})
        else:
            content = reply.content
        return json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": content}}]}
        )

    @property
    def prompts(self):
        return [body["messages"][0]["content"] for _, _, body in self.requests]


@pytest.fixture
def server(monkeypatch):
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv(KEY_ENV, SECRET)
    fake = FakeChatServer()
    fake.thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def http_scorer(server, **params):
    params = {"api_key_env": KEY_ENV, "backoff": 0.0, "timeout": 5.0} | params
    return ChatScorer(url=server.url, **params)


def test_good_answers_and_the_request_it_sends(server):
    scores = http_scorer(server, model="tiny-llm", temperature=0.2).score(NAMES, TASK)
    np.testing.assert_allclose(scores, EXPECTED)
    ((path, headers, body),) = server.requests
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["Content-Type"] == "application/json"
    assert body["model"] == "tiny-llm" and body["temperature"] == 0.2
    assert body["messages"][0]["role"] == "user" and TASK in server.prompts[0]


def test_the_full_endpoint_url_is_used_as_is(server):
    full = server.url + "/chat/completions/"
    np.testing.assert_allclose(
        ChatScorer(url=full, backoff=0.0).score(NAMES, TASK), EXPECTED
    )
    assert [path for path, _, _ in server.requests] == ["/v1/chat/completions"]


def test_the_key_is_read_at_call_time_and_optional(server, monkeypatch):
    scorer = http_scorer(server)
    monkeypatch.setenv(KEY_ENV, "sk-rotated")
    scorer.score(NAMES, TASK)
    monkeypatch.delenv(KEY_ENV)
    scorer.score(NAMES, TASK)
    http_scorer(server, api_key_env=None).score(NAMES, TASK)
    sent = [headers.get("Authorization") for _, headers, _ in server.requests]
    assert sent == ["Bearer sk-rotated", None, None]


def test_rate_limit_then_server_error_then_success(server):
    server.script = [Reply(429, body="slow down"), Reply(500, body="oops")]
    np.testing.assert_allclose(http_scorer(server).score(NAMES, TASK), EXPECTED)
    assert len(server.requests) == 3


def test_bad_json_and_malformed_completions_are_retried(server):
    server.script = [Reply(content="I think glucose matters"), Reply(body="<html>")]
    np.testing.assert_allclose(http_scorer(server).score(NAMES, TASK), EXPECTED)
    assert len(server.requests) == 3


def test_missing_and_case_changed_keys(server):
    server.script = [Reply(content='{"GLUCOSE": 0.8, " Bmi ": 0.4, "zip_code": 0.1}')]
    np.testing.assert_allclose(http_scorer(server).score(NAMES, TASK), EXPECTED)
    assert re.findall(r'^- "([^"]*)"', server.prompts[1], re.M) == ["zip"]


def test_a_timeout_is_retried(server):
    server.script = [Reply(delay=1.0)]
    scores = http_scorer(server, timeout=0.3).score(NAMES, TASK)
    np.testing.assert_allclose(scores, EXPECTED)
    assert len(server.requests) == 2


def test_persistent_server_errors_exhaust_the_retries(server):
    server.script = [Reply(503, body="down")] * 3
    with pytest.raises(RuntimeError, match=r"3 of 3 features.*HTTP 503"):
        http_scorer(server, max_retries=2).score(NAMES, TASK)
    assert len(server.requests) == 3


def test_refused_credentials_are_not_retried_and_name_the_variable(server):
    server.script = [Reply(401, body=f'{{"error": "bad key {SECRET}"}}')]
    with pytest.raises(ChatRequestError, match=f"HTTP 401.*'{KEY_ENV}'") as error:
        http_scorer(server).score(NAMES, TASK)
    assert SECRET not in str(error.value)
    assert len(server.requests) == 1


def test_the_key_never_leaks(server, caplog, tmp_path):
    """Not in the repr, a pickle, the log, the cache or an error message."""
    caplog.set_level(logging.DEBUG)
    server.script = [Reply(429, body="wait"), Reply(content="nope")]
    scorer = http_scorer(server, cache_dir=tmp_path)
    scorer.score(NAMES, TASK)
    server.script = [Reply(400, body=f'{{"error": "echo {SECRET}"}}')]
    with pytest.raises(ChatRequestError, match="HTTP 400") as error:
        http_scorer(server).score(NAMES, TASK)
    assert "Attempt 1 of 5" in caplog.text  # the retries were logged
    exposed = [
        repr(scorer),
        str(pickle.dumps(scorer)),
        caplog.text,
        str(error.value),
        *(entry.read_text() for entry in tmp_path.iterdir()),
    ]
    assert server.requests[0][1]["Authorization"] == f"Bearer {SECRET}"
    for text in exposed:
        assert SECRET not in text
    assert pickle.loads(pickle.dumps(scorer)).get_params() == scorer.get_params()


def test_an_unreachable_endpoint_is_retried_then_reported(server):
    server.httpd.shutdown()
    server.httpd.server_close()
    with pytest.raises(RuntimeError, match=r"3 of 3 features.*failed"):
        http_scorer(server, max_retries=1).score(NAMES, TASK)


# --- the circuit breaker against endpoints that are down ------------------------


class Blackhole:
    """A server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.02)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"
        self.connections, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)  # held open, never read

    def close(self):
        self.stop.set()
        self.thread.join()
        for connection in [*self.connections, self.socket]:
            connection.close()


@pytest.fixture
def direct(monkeypatch):
    """No proxy between the scorer and 127.0.0.1."""
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)


@pytest.fixture
def blackhole(direct):
    hole = Blackhole()
    hole.thread.start()
    yield hole
    hole.close()


@pytest.fixture
def attempts(monkeypatch):
    """Count the requests sent, whether or not anything answers them."""
    sent, urlopen = [], urllib.request.urlopen

    def counting(request, *args, **kwargs):
        sent.append(request.full_url)
        return urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting)
    return sent


MANY = [f"feature_{j}" for j in range(40)]


def test_a_blackholed_endpoint_is_given_up_at_the_deadline(blackhole, attempts):
    """The deadline cuts the per-request timeout: 0.5 s in all, not 5 s each."""
    scorer = ChatScorer(
        url=blackhole.url,
        batch_size=1,
        backoff=0.0,
        timeout=5.0,
        max_consecutive_failures=None,
        timeout_total=0.5,
    )
    start = time.monotonic()
    with pytest.raises(ScoringError) as error:
        scorer.score(MANY, TASK)
    assert time.monotonic() - start < 3 * 0.5
    assert len(attempts) == len(blackhole.connections) == 1
    message = str(error.value)
    for part in (
        f"{blackhole.url}/chat/completions (model 'gpt-4o-mini')",
        "timeout_total=0.5 seconds",
        "1 of 40 batches failed",
        "39 not finished",
        "timed out",
        "raise timeout_total",
    ):
        assert part in message, part


def test_a_blackholed_endpoint_trips_the_breaker(blackhole, attempts):
    scorer = ChatScorer(
        url=blackhole.url,
        batch_size=1,
        max_retries=1,
        backoff=0.0,
        timeout=0.1,
        max_consecutive_failures=2,
    )
    start = time.monotonic()
    with pytest.raises(ScoringError, match="2 of 40 batches failed"):
        scorer.score(MANY, TASK)
    assert time.monotonic() - start < 3 * 4 * 0.1
    assert len(attempts) == 2 * 2  # two batches of two attempts, not forty


def test_a_refused_connection_trips_the_breaker(direct, attempts):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    scorer = ChatScorer(
        url=url, batch_size=1, max_retries=2, backoff=0.0, max_consecutive_failures=3
    )
    with pytest.raises(ScoringError) as error:
        scorer.score(MANY, TASK)
    assert len(attempts) == 3 * 3  # three batches of three attempts, not forty
    message = str(error.value)
    for part in (
        f"{url}/chat/completions",
        "3 batches in a row failed (max_consecutive_failures=3)",
        "3 of 40 batches failed",
        "37 not finished",
        "refused",
        "raise max_consecutive_failures",
    ):
        assert part in message, part


# --- the cache key names the endpoint --------------------------------------------


def test_two_servers_never_share_cache_entries(server, tmp_path):
    other = FakeChatServer(truth={"glucose": 0.2, "bmi": 0.8, "zip": 0.4})
    other.thread.start()
    try:
        first = http_scorer(server, cache_dir=tmp_path)
        second = ChatScorer(url=other.url, backoff=0.0, cache_dir=tmp_path)
        np.testing.assert_allclose(first.score(NAMES, TASK), EXPECTED)
        np.testing.assert_allclose(second.score(NAMES, TASK), [0.25, 1.0, 0.5])
        assert len(server.requests) == len(other.requests) == 1
        assert len(list(tmp_path.glob("*.json"))) == 2
        # Each asked again: both answers now come from the cache.
        np.testing.assert_allclose(first.score(NAMES, TASK), EXPECTED)
        np.testing.assert_allclose(second.score(NAMES, TASK), [0.25, 1.0, 0.5])
        assert len(server.requests) == len(other.requests) == 1
    finally:
        other.httpd.shutdown()
        other.httpd.server_close()

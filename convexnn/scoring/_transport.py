"""One prompt, one answer: an OpenAI-compatible chat-completions call over urllib.

The API key is read from an environment variable at each call and goes only
into the request's ``Authorization`` header: it is never stored on an object,
logged, or put into an error message.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from ._answers import InvalidAnswer

logger = logging.getLogger("convexnn.scoring")

_SUFFIX = "/chat/completions"


class TransientError(RuntimeError):
    """A failure worth retrying: rate limit, server error, timeout, lost connection."""


class ChatRequestError(RuntimeError):
    """The endpoint rejected the request for good (a 4xx other than 429)."""


def endpoint_url(url: str) -> str:
    """The chat-completions URL: ``url`` itself if it ends in ``/chat/completions``,
    else ``url`` (a base such as ``http://localhost:8000/v1``) plus that suffix."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "url must be an http(s) URL such as 'http://localhost:8000/v1'; "
            f"got {url!r}."
        )
    url = url.rstrip("/")
    return url if url.endswith(_SUFFIX) else url + _SUFFIX


class ChatCompletions:
    """A ``complete(prompt) -> str`` callable backed by a chat-completions endpoint.

    Parameters
    ----------
    url : str
        Base URL (``.../v1``) or full ``.../chat/completions`` URL.
    model : str
        The ``model`` field of the request.
    api_key_env : str or None
        Environment variable holding the API key, read at every call. When it
        is ``None``, unset or empty, no ``Authorization`` header is sent (local
        servers often need none).
    timeout : float
        Seconds to wait for the connection and for each read.
    temperature : float or None
        Sampling temperature; ``None`` leaves it to the server.
    deadline : float or None
        A :func:`time.monotonic` time after which no request is sent; each
        request's timeout is cut to the time left before it. ``None`` sets no
        deadline.
    """

    def __init__(
        self, url, model, *, api_key_env, timeout, temperature=None, deadline=None
    ):
        self.endpoint = endpoint_url(url)
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.temperature = temperature
        self.deadline = deadline

    def __call__(self, prompt: str) -> str:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint, data, headers, method="POST")
        timeout = self.timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                raise TransientError(f"{self.endpoint}: the deadline has passed")
        logger.debug("POST %s (%d characters of prompt)", self.endpoint, len(prompt))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, key) from None
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            TimeoutError,
            ConnectionError,
        ) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientError(f"{self.endpoint} failed: {reason}") from None
        return completion_text(payload)

    def _http_error(self, exc: urllib.error.HTTPError, key: str | None) -> Exception:
        """The error to raise for an HTTP error status."""
        status = f"HTTP {exc.code} from {self.endpoint}"
        if exc.code == 429 or exc.code >= 500:
            return TransientError(status)
        if exc.code in (401, 403):
            where = (
                f"the environment variable {self.api_key_env!r}"
                if self.api_key_env
                else "an environment variable named by api_key_env"
            )
            return ChatRequestError(
                f"{status}: the endpoint refused the credentials; put the API key "
                f"in {where}."
            )
        detail = exc.read(500).decode("utf-8", "replace")
        if key:
            detail = detail.replace(key, "***")
        return ChatRequestError(f"{status}: {detail}")


def completion_text(payload: bytes) -> str:
    """The message text of a chat-completions response body."""
    try:
        text = json.loads(payload)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidAnswer(
            f"the response is not a chat completion: {payload[:200]!r}"
        ) from exc
    if not isinstance(text, str):
        raise InvalidAnswer(f"the completion's content is not text: {text!r:.200}")
    return text

"""`GET /api/mirror` is answered in front of Flask (routes.DirectMirror, issue #21): the same answer as the
Flask route, byte for byte, and everything it does not answer itself still goes through Flask."""

from __future__ import annotations

import io
import sys

import pytest

from mirror_service import routes
from mirror_service.observability import REQUEST_ID_ENVIRON_KEY

QUERIES = [
    "word=fOoBar25", "word=%C3%9F%C3%A9x%CC%81", "word=a+b%2B", "x=1&word=Zz&y=2", "word=" + "a" * 1024,
    # what the Flask route refuses: the direct layer must hand these on, not answer them
    "", "word=", "word=%ff", "word=a&word=b", "word=" + "a" * 1025,
]


def call(wsgi_app, method: str, query: str) -> tuple[str, list, bytes]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": "/api/mirror", "QUERY_STRING": query, "SERVER_NAME": "test",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, REQUEST_ID_ENVIRON_KEY: "direct-test",
    }
    answer = {}

    def start_response(status: str, headers: list, exc_info=None) -> None:
        answer.update(status=status, headers=list(headers))

    body = b"".join(wsgi_app(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.fixture
def layers(app_for) -> tuple[routes.DirectMirror, object]:
    direct = app_for().wsgi_app.wsgi_app  # RequestTelemetry -> DirectMirror -> Flask
    assert isinstance(direct, routes.DirectMirror)
    return direct, direct.flask_wsgi_app


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_the_direct_answer_is_the_flask_routes_answer(layers, method: str, query: str) -> None:
    direct, flask = layers
    assert call(direct, method, query) == call(flask, method, query)


def test_valid_words_do_not_reach_flask(layers, monkeypatch) -> None:
    direct, _ = layers
    monkeypatch.setattr(direct, "flask_wsgi_app", lambda environ, start_response: pytest.fail("reached Flask"))
    assert call(direct, "GET", "word=fOoBar25")[2] == b'{"transformed":"52RAbOoF"}'


def test_a_failure_in_the_direct_layer_is_flasks_json_500(app_for, monkeypatch) -> None:
    def broken(word: str) -> str:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(routes, "mirror", broken)
    response = app_for().test_client().get("/api/mirror?word=abc")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "internal detail" not in response.get_data(as_text=True)

"""scripts/proxy.py as a real process in front of real (stand-in) HTTP servers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from scripts.proxy import MAX_BODY, conversation_of, rank
from tests.support.processes import PYTHON, Service, free_port


def backend(name: str) -> Service:
    port = free_port()
    return Service(f"echo-{name}", [PYTHON, "-m", "tests.prod.echo_backend", str(port), name], port)


def proxy(
    backends: list[str], *, health_interval: float = 0.5, route: str = "round-robin"
) -> Service:
    port = free_port()
    args = [PYTHON, "-m", "scripts.proxy", "--name", "echo", "--port", str(port), "--backends",
            ",".join(backends), "--health-interval", str(health_interval),
            "--route", route]  # fmt: skip
    return Service(f"proxy-{port}", args, port, health_path=None)


@pytest.fixture
def two() -> Iterator[tuple[Service, Service]]:
    with backend("a") as a, backend("b") as b:
        yield a, b


def seen(service: Service) -> list[str]:
    return httpx.get(f"{service.url}/count").json()["seen"]


def test_requests_take_turns_and_pass_through_unchanged(two):
    a, b = two
    with proxy([a.url, b.url]) as front:
        answers = [httpx.get(f"{front.url}/conversations/x/tracker?token=t") for _ in range(4)]
        names = [r.json()["name"] for r in answers]
        assert names in (["a", "b", "a", "b"], ["b", "a", "b", "a"])
        assert {r.headers["x-backend"] for r in answers} == {a.url[7:], b.url[7:]}
        assert answers[0].json()["path"] == "/conversations/x/tracker?token=t"
        # Paths and queries are passed on exactly as sent, percent-encoding included.
        odd = "/conversations/kiosk%2F1%20%E5%BC%A0/tracker?token=a%26b&x=%E4%BD%A0"
        assert httpx.get(httpx.URL(front.url + odd)).json()["path"] == odd
        assert answers[0].headers.get_list("set-cookie") == ["a=1", "b=2"]

        body = '{"sender": "s", "message": "你好"}'.encode()
        posted = httpx.post(f"{front.url}/webhooks/rest/webhook", content=body)
        assert posted.json()["method"] == "POST"
        assert posted.json()["body"].encode() == body  # byte for byte
        assert posted.json()["forwarded_for"] == "127.0.0.1"


def test_a_stopped_backend_is_skipped_and_the_request_goes_to_the_next(two):
    a, b = two
    # Health checks far apart: the proxy learns that b is gone from a refused connection.
    with proxy([a.url, b.url], health_interval=60) as front:
        b.stop()
        answers = [httpx.post(f"{front.url}/webhooks/rest/webhook", json={}) for _ in range(4)]
        assert [r.status_code for r in answers] == [200] * 4
        assert {r.json()["name"] for r in answers} == {"a"}
        health = httpx.get(f"{front.url}/_proxy/health").json()
        assert health["down"] == [b.url.removeprefix("http://")]


def test_health_checks_take_a_dead_backend_out_and_back_in(two):
    a, b = two
    with proxy([a.url, b.url], health_interval=0.3) as front:
        b.stop()
        wait_until(lambda: httpx.get(f"{front.url}/_proxy/health").json()["up"] == [a.url[7:]])
        b.start()
        wait_until(lambda: len(httpx.get(f"{front.url}/_proxy/health").json()["up"]) == 2)
        names = {httpx.get(f"{front.url}/x").json()["name"] for _ in range(4)}
        assert names == {"a", "b"}


def test_a_message_that_reached_a_backend_is_never_sent_twice(two):
    a, b = two
    with proxy([a.url, b.url]) as front:
        response = httpx.post(f"{front.url}/hang-up", json={"message": "对"})
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        # Only one backend got it: repeating it could file an application twice.
        assert sorted(seen(a) + seen(b)) == ["POST /hang-up"]


def test_a_read_that_failed_midway_is_tried_on_the_next_backend(two):
    a, b = two
    with proxy([a.url, b.url]) as front:
        response = httpx.get(f"{front.url}/hang-up")
        assert response.status_code == 503  # both hung up
        assert seen(a) == seen(b) == ["GET /hang-up"]


def test_a_body_too_large_for_the_proxy_is_a_clear_413(two):
    a, b = two
    with proxy([a.url, b.url], route="conversation") as front:
        response = httpx.post(
            f"{front.url}/webhooks/rest/webhook", content=b"x" * (MAX_BODY + 1), timeout=60
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "the request is larger than 64 MiB"
        assert seen(a) == seen(b) == []
        # Odd bodies are the backends' business: passed on as they are.
        for body in [b"\xff\xfe not UTF-8", b"[" * 100_000, "😀\x00<script>".encode()]:
            answer = httpx.post(f"{front.url}/webhooks/rest/webhook", content=body)
            assert answer.status_code == 200
            assert answer.json()["body"].encode("utf-8", "surrogateescape") == body


def test_no_backend_left_is_a_clear_503():
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    with proxy(dead) as front:
        response = httpx.post(f"{front.url}/webhooks/rest/webhook", json={})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "no echo backend is reachable"
        wait_until(lambda: httpx.get(f"{front.url}/_proxy/health").status_code == 503)


# ------------------------------------------------------------- routing by conversation


def test_the_conversation_is_read_from_the_path_or_the_message():
    assert conversation_of("/conversations/kiosk:1%20a/tracker", "GET", b"") == "kiosk:1 a"
    message = '{"sender": "web:张", "message": "你好"}'.encode()
    assert conversation_of("/webhooks/rest/webhook", "POST", message) == "web:张"
    # Nothing to go by: the request takes turns (and Rasa answers what it makes of it).
    for path, method, body in [
        ("/webhooks/rest/webhook", "POST", b"not json"),
        ("/webhooks/rest/webhook", "POST", b"[1, 2]"),
        ("/webhooks/rest/webhook", "POST", b'{"sender": "\xff"}'),
        ("/webhooks/rest/webhook", "POST", b"[" * 100_000),
        ("/webhooks/rest/webhook", "POST", b'{"sender": 7}'),
        ("/webhooks/rest/webhook", "POST", b'{"sender": ""}'),
        ("/webhooks/rest/webhook", "POST", b'{"message": "hi"}'),
        ("/model/parse", "POST", message),
        ("/", "GET", b""),
    ]:
        assert conversation_of(path, method, body) is None, (path, body)


def test_a_lost_backend_moves_only_its_own_conversations():
    urls = [f"http://127.0.0.1:{port}" for port in (5006, 5007, 5008)]
    conversations = [f"web:{n}" for n in range(300)]
    first = {c: rank(c, urls)[0] for c in conversations}
    assert {first[c] for c in conversations} == {0, 1, 2}
    assert max(list(first.values()).count(i) for i in range(3)) < 140  # roughly even
    assert rank("web:1", urls) == rank("web:1", urls)  # the same in every process
    without_last = urls[:2]
    for c in conversations:
        if first[c] != 2:
            assert rank(c, without_last)[0] == first[c]


def test_each_conversation_stays_on_one_backend_while_it_is_up():
    with backend("a") as a, backend("b") as b, backend("c") as c:
        urls = [a.url, b.url, c.url]
        names = {a.url: "a", b.url: "b", c.url: "c"}
        with proxy(urls, route="conversation", health_interval=0.3) as front:

            def turns(sender: str) -> set[str]:
                said = [
                    httpx.post(
                        f"{front.url}/webhooks/rest/webhook",
                        json={"sender": sender, "message": str(n)},
                    ).json()["name"]
                    for n in range(3)
                ]
                read = httpx.get(f"{front.url}/conversations/{sender}/tracker").json()["name"]
                return {*said, read}

            senders = [f"kiosk:{n}" for n in range(12)]
            home = {s: names[urls[rank(s, urls)[0]]] for s in senders}
            assert {s: turns(s) for s in senders} == {s: {home[s]} for s in senders}
            assert set(home.values()) == {"a", "b", "c"}

            # c goes away: only its conversations move, each to its next backend ...
            c.stop()
            wait_until(lambda: len(httpx.get(f"{front.url}/_proxy/health").json()["up"]) == 2)
            for s in senders:
                expected = home[s] if home[s] != "c" else names[urls[rank(s, urls)[1]]]
                assert turns(s) == {expected}, s
            # ... and they come back when it does.
            c.start()
            wait_until(lambda: len(httpx.get(f"{front.url}/_proxy/health").json()["up"]) == 3)
            assert {s: turns(s) for s in senders} == {s: {home[s]} for s in senders}


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition never became true")

"""Log formats: text and JSON lines, with the request id of the request being handled."""

from __future__ import annotations

import io
import json
import logging

from gatekeeper import logging_setup


def _emit(fmt: str, rid: str | None) -> str:
    stream = io.StringIO()
    logging_setup.configure("info", fmt, stream)
    token = logging_setup.REQUEST_ID.set(rid)
    try:
        logging.getLogger("gatekeeper.test").warning("hello %s", "world")
    finally:
        logging_setup.REQUEST_ID.reset(token)
    return stream.getvalue()


def test_text_lines_name_the_request() -> None:
    assert _emit("text", "abc").rstrip().endswith("WARNING gatekeeper.test [abc]: hello world")
    assert _emit("text", None).rstrip().endswith("WARNING gatekeeper.test: hello world")


def test_json_lines_parse_and_carry_the_request_id() -> None:
    line = json.loads(_emit("json", "abc"))
    assert line["level"] == "WARNING"
    assert line["logger"] == "gatekeeper.test"
    assert line["message"] == "hello world"
    assert line["request_id"] == "abc"
    assert "request_id" not in json.loads(_emit("json", None))


def test_configuring_again_replaces_the_handler() -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    logging_setup.configure("info", "text", io.StringIO())
    logging_setup.configure("debug", "json", io.StringIO())
    assert len(root.handlers) == before

"""Read the portal's log lines as an operator's log shipper would: the real filter and formatter, on a stream."""

import contextlib
import io
import json
import logging

from portal.logs import ContextFilter, JsonFormatter


@contextlib.contextmanager
def json_lines(level=logging.INFO):
    """Yield a list that fills with the JSON objects of every line logged meanwhile (any logger)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, old_level) if old_level else level)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        lines.extend(json.loads(text) for text in stream.getvalue().splitlines() if text.startswith("{"))


def events(lines, name):
    return [line for line in lines if line.get("event") == name]

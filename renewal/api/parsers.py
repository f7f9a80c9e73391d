"""The API's JSON parser, the default of every DRF view (settings REST_FRAMEWORK).

Its own module: DRF imports the default parser while `rest_framework.views` is still loading, so it must
not import views.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested too deeply to parse is 400 invalid_json, not a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The json module recurses once per level: 30,000 brackets fit in a 64 KiB body and exhaust the stack.
            raise ParseError("JSON parse error - the body is nested too deeply.") from None

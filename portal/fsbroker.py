"""The embedded broker of `make run`: kombu's filesystem transport, with atomic writes.

kombu writes a message file in place, so a consumer listing the folder can move
and read it before the producer has written it; the worker then dies on an
empty or half-written message (seen under `make run` load: "Unrecoverable
error: JSONDecodeError"). Here a message is written under a name no consumer
matches and renamed into place, which is atomic on one filesystem.

When the folder's disk is full, the write fails part-way: the part file is removed and the publish fails at once
with a ChannelError naming the folder, so the caller can say what happened (numbers.queueing).
"""

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

ALIAS = "portalfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # `_get` only takes "*.<queue>.msg"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a half-written message would fill the disk for nothing
                os.remove(partial)
            raise ChannelError(f"Cannot add a message to the folder {self.data_folder_out!r}: "
                               f"{exc.strerror or exc}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    # kombu treats every error of a transport that does not classify them as curable by reconnecting: it closes
    # the channel and retries the publish (ending in an OperationalError, or an AttributeError from the closed
    # channel). Reconnecting to a folder cures nothing (a full disk stays full): let the ChannelError through.
    recoverable_connection_errors: tuple[type[BaseException], ...] = ()
    recoverable_channel_errors: tuple[type[BaseException], ...] = ()


TRANSPORT_ALIASES[ALIAS] = "portal.fsbroker:Transport"

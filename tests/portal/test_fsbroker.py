"""The embedded broker never hands a worker a message that is still being written."""

import errno
import os

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

import portal.fsbroker


def _connection(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    (tmp_path / "control").mkdir()
    return folder, Connection("portalfs://", transport_options={
        "data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path / "control"),
    })


def test_messages_go_through_and_leave_no_partial_files(tmp_path):
    folder, conn = _connection(tmp_path)
    with conn:
        queue = conn.SimpleQueue("jobs-a")
        for i in range(20):
            queue.put({"n": i})
        assert not list(folder.glob(".*.part"))
        got = []
        for _ in range(20):
            message = queue.get(timeout=1)
            got.append(message.payload["n"])
            message.ack()
        assert sorted(got) == list(range(20))  # files of one millisecond come in any order
        queue.close()


def test_a_message_being_written_is_not_taken(tmp_path):
    folder, conn = _connection(tmp_path)
    with conn:
        queue = conn.SimpleQueue("jobs-b")
        # What a producer leaves while it writes: a file under a name consumers do not match.
        (folder / ".1_0000.jobs-b.msg.part").write_bytes(b'{"body": "half')
        queue.put({"n": 1})
        message = queue.get(timeout=1)
        assert message.payload == {"n": 1}
        message.ack()
        assert (folder / ".1_0000.jobs-b.msg.part").exists()
        queue.close()


def test_a_full_disk_leaves_no_part_file_and_names_the_folder(tmp_path, monkeypatch):
    folder, conn = _connection(tmp_path)

    def full(src, dst):  # the part file is written; its rename finds no room for the folder's entry
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with conn:
        queue = conn.SimpleQueue("jobs-c")
        monkeypatch.setattr(portal.fsbroker.os, "replace", full)
        with pytest.raises(ChannelError, match=f"folder '{folder}': No space left on device"):
            queue.put({"n": 1})
        assert list(folder.iterdir()) == []  # neither the message nor its part file
        monkeypatch.undo()
        queue.put({"n": 2})  # raised at once, not after kombu's reconnect-and-retry: the channel still works
        assert queue.get(timeout=1).payload == {"n": 2}
        queue.close()

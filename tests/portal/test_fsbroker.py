"""The embedded broker never hands a worker a message that is still being written."""

from kombu import Connection

import portal.fsbroker  # noqa: F401


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

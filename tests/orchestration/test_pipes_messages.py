"""The training message reader parses whole lines only: a message whose append lands in two parts is read once,
intact, and every later message still arrives (Dagster's own reader dies on the half line)."""

import json
import threading
import time

from orchestration.pipes_messages import WholeLineMessageReader, whole_lines


class CollectingHandler:
    """What Dagster's message handler is to the reader: it receives each message or the reader's failure."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.failures: list[str] = []

    def handle_message(self, message: dict) -> None:
        self.messages.append(message)

    def report_pipes_framework_exception(self, origin: str, exc_info) -> None:
        self.failures.append(f"{origin}: {exc_info[1]}")


def test_a_line_written_in_two_parts_is_read_once_whole(tmp_path):
    path = tmp_path / "messages"
    path.write_text("")
    closed = threading.Event()
    lines: list[str] = []
    with open(path, encoding="utf-8") as stream:
        reader = threading.Thread(target=lambda: lines.extend(whole_lines(stream, closed, poll_s=0.001)))
        reader.start()
        with open(path, "a", encoding="utf-8") as out:
            out.write('{"method": "log", "params": {"message": "first ha')
            out.flush()
            time.sleep(0.05)  # the reader polls many times while the line is half written
            out.write('lf"}}\n{"method": "log", "params": {"message": "second"}}\n')
            out.flush()
        time.sleep(0.05)
        closed.set()
        reader.join(5)
    assert [json.loads(line)["params"]["message"] for line in lines] == ["first half", "second"]


def test_reader_delivers_every_message_of_a_session(tmp_path):
    handler = CollectingHandler()
    reader = WholeLineMessageReader()
    with reader.read_messages(handler) as params:
        path = params["path"]
        with open(path, "a", encoding="utf-8") as out:
            for i in range(50):
                text = json.dumps({"method": "report_custom_message", "params": {"payload": {"step": i}}}) + "\n"
                out.write(text[:7])
                out.flush()
                out.write(text[7:])
                out.flush()
    assert handler.failures == []
    assert [m["params"]["payload"]["step"] for m in handler.messages] == list(range(50))

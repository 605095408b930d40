"""The one live view of a copy: rows from every worker in one line, a line per finished table."""
import io
import queue

from infra.datamove.progress import Board


class _Manager:
    def Queue(self):
        return queue.Queue()


def test_one_line_for_every_worker():
    out = io.StringIO()
    board = Board({"works": 1000, "sales": 3000, "artists": 0}, out=out)
    inbox = board.inbox(_Manager())
    with board:
        board.add("works", 710)  # a thread's count
        inbox.put(("sales", 1200))  # a worker process's, through the queue
        board._drain()
        assert board.line().startswith("copying: 0/3 tables, 1,910 of 4,000 rows (48%), ")
        assert board.line().endswith("; now works 71%, sales 40%")
        board.finished("works", 1000, 2.0)
        board.add("works", 300)  # a count still queued when the table finished: its total stays exact
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["works", "1,000", "rows", "500", "rows/s", "2.0", "s", "done"]
    assert lines[-1].startswith("copying: 1/3 tables, 2,200 of 4,000 rows (55%)") and "now sales 40%" in lines[-1]

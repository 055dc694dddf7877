"""One worker thread that compiles native code while callers keep running interpreted.

Jobs run in submission order. Numba serialises compilation behind its own lock, so one
worker is as fast as several and leaves the other cores to the caller. The worker is a
daemon: at exit, queued jobs are dropped and a compile in progress is abandoned (the
disk cache only ever holds complete, renamed files).
"""
import atexit
import collections
import threading

_cond = threading.Condition()
_jobs = collections.deque()
_state = {"thread": None, "running": 0, "closed": False}


def submit(job):
    """Run ``job()`` on the worker thread; exceptions are the job's own business."""
    with _cond:
        if _state["closed"]:
            return False
        _jobs.append(job)
        if _state["thread"] is None:
            t = threading.Thread(target=_work, name="tapejit-compile", daemon=True)
            _state["thread"] = t
            t.start()
        _cond.notify_all()
    return True


def _work():
    while True:
        with _cond:
            while not _jobs:
                _cond.wait()
            job = _jobs.popleft()
            _state["running"] += 1
        try:
            job()
        except BaseException:                  # noqa: BLE001  (jobs report their own errors)
            pass
        finally:
            with _cond:
                _state["running"] -= 1
                _cond.notify_all()


def wait(timeout=None):
    """Block until every submitted compile has finished; False if ``timeout`` passed
    first. Called from the worker thread itself it returns at once."""
    if threading.current_thread() is _state["thread"]:
        return True
    with _cond:
        return _cond.wait_for(lambda: not _jobs and not _state["running"], timeout)


def pending():
    """Number of compiles queued or running."""
    with _cond:
        return len(_jobs) + _state["running"]


@atexit.register
def _close():
    with _cond:
        _state["closed"] = True
        _jobs.clear()

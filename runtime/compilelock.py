"""One compile per kernel among processes that share a cache directory.

A process about to compile a kernel signature that is not on disk takes an exclusive
lock on ``<entry>.lock`` in the cache directory (``fcntl.flock``). A second process
wanting the same signature waits for the lock, then finds the first one's result in the
disk cache and loads it instead of compiling it again (pytest-xdist workers, several
programs started at once on one cache).

- A lock dies with its holder: the kernel releases ``flock`` locks of a process that
  exits or crashes, so a lock file left behind never blocks anyone.
- A holder that is alive but takes longer than ``TIMEOUT`` seconds is not waited for any
  longer: the waiter compiles on its own (the result is the same; it is only work done
  twice).
- The holder removes the file before it lets go; a waiter that then wins the lock on the
  removed file notices (the path names another file or none) and locks the path afresh,
  so two processes never both believe they hold one key.
- Where locks are not available (a file system without ``flock``), nothing waits.
"""
import contextlib
import errno
import os
import time

try:
    import fcntl
except ImportError:                     # not POSIX: every compile goes ahead at once
    fcntl = None

TIMEOUT = 300.0
_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def acquire(path, timeout=TIMEOUT):
    """Lock ``path`` (created 0600). Returns ``(fd, waited)``: ``fd`` is the held lock,
    or None when no lock could be taken (timed out, or no locking here); ``waited`` says
    whether another holder was seen (then its result may be on disk now)."""
    if fcntl is None:
        return None, False
    deadline = time.monotonic() + timeout
    waited, delay = False, 0.002
    while True:
        try:
            fd = os.open(path, _FLAGS, 0o600)
        except OSError:
            return None, waited
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None, waited     # locking not supported here
            if time.monotonic() >= deadline:
                return None, True
            waited = True
            time.sleep(delay)
            delay = min(2 * delay, 0.05)
            continue
        if _names_file(path, fd):
            return fd, waited
        os.close(fd)                    # we locked a file its holder had removed: again


def _names_file(path, fd):
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    own = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (own.st_ino, own.st_dev)


def release(fd, path):
    """Remove ``path`` and let go of the lock ``fd`` from ``acquire``."""
    with contextlib.suppress(OSError):
        os.unlink(path)
    os.close(fd)

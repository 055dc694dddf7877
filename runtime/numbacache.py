"""Numba's on-disk cache, kept where only the user can write and authenticated before use.

Numba's own cache (``cache=True``) finds a directory next to the source file, falls back
to ``~/.cache/numba`` without saying so, and unpickles its index (``.nbi``) and object
code (``.nbc``) files as it finds them: a file planted there runs as the user who loads
it. Kernels get this cache instead (``attach``):

- files live in one directory chosen by the caller (``tt.config.cache_dir``), already
  checked to be owned by the user and not writable by anyone else;
- every file is ``MAGIC + HMAC-SHA256(key, name + payload) + payload`` with a per-user
  secret key; a file whose tag does not verify is never unpickled: it is deleted and the
  kernel is compiled again (and saved again);
- files are created 0600 and renamed into place (atomic for concurrent processes);
- a signature missing on disk is compiled under a per-signature lock file
  (``runtime.compilelock``): another process wanting it meanwhile waits and then loads
  the saved result instead of compiling it a second time.
"""
import contextlib
import hashlib
import hmac
import os
import pickle
import sys
import threading
import uuid
import warnings

from numba.core.caching import CompileResultCacheImpl, FunctionCache, IndexDataCacheFile
from numba.core.caching import _CacheLocator

from runtime import compilelock

MAGIC = b"TJNB1\n"
_TAG = hashlib.sha256().digest_size


def _tag(key, name, payload):
    return hmac.new(key, name.encode() + b"\0" + payload, hashlib.sha256).digest()


def read_signed(path, key):
    """The payload of a signed file, or None when it is missing or does not verify (a
    file that does not verify is deleted)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head = len(MAGIC) + _TAG
    name = os.path.basename(path)
    if len(raw) >= head and raw[:len(MAGIC)] == MAGIC:
        payload = raw[head:]
        if hmac.compare_digest(raw[len(MAGIC):head], _tag(key, name, payload)):
            return payload
    warnings.warn(f"tapejit: discarding damaged or foreign compile cache file {path}; "
                  f"the kernel is compiled again", CacheWarning, stacklevel=2)
    discard(path)
    return None


class CacheWarning(UserWarning):
    """A disk cache entry or directory could not be used; work continues without it."""


def write_signed(path, key, payload):
    """Write ``payload`` signed, mode 0600, atomically."""
    write_plain(path, MAGIC + _tag(key, os.path.basename(path), payload) + payload)


def write_plain(path, data):
    """Write bytes to a new 0600 file renamed into place (atomic for other processes)."""
    tmp = f"{path}.tmp.{uuid.uuid4().hex[:16]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def discard(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


class _SignedFiles(IndexDataCacheFile):
    """Numba's index/data file pair with every file authenticated before unpickling."""

    def __init__(self, cache_path, filename_base, source_stamp, key):
        super().__init__(cache_path, filename_base, source_stamp)
        self._key = key

    def _load_index(self):
        raw = read_signed(self._index_path, self._key)
        if raw is None:
            return {}
        try:
            version, stamp, overloads = pickle.loads(raw)
        except Exception:                      # signed by us but unreadable: rebuild
            discard(self._index_path)
            return {}
        if version != self._version or stamp != self._source_stamp:
            return {}
        return overloads

    def _save_index(self, overloads):
        payload = self._dump((self._version, self._source_stamp, overloads))
        write_signed(self._index_path, self._key, payload)

    def _load_data(self, name):
        path = self._data_path(name)
        raw = read_signed(path, self._key)
        if raw is None:
            raise OSError(f"cache data file {path} is missing or does not verify")
        try:
            return pickle.loads(raw)
        except Exception as e:
            discard(path)
            raise OSError(f"cache data file {path} is unreadable: {e}") from None

    def _save_data(self, name, data):
        write_signed(self._data_path(name), self._key, self._dump(data))


class _Locator(_CacheLocator):
    """Numba's files for one kernel: in ``directory``, fresh while ``stamp`` matches."""

    def __init__(self, directory, stamp):
        self._cache_path = directory
        self._stamp = stamp

    def ensure_cache_path(self):
        if not os.path.isdir(self._cache_path):
            raise OSError(f"compile cache directory {self._cache_path} is gone")

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return self._stamp

    def get_disambiguator(self):
        return self._stamp[:12]

    @classmethod
    def from_function(cls, py_func, py_file):
        return None                            # only built explicitly by _Impl


class _Impl(CompileResultCacheImpl):
    def __init__(self, py_func, directory, stamp):    # no locator search: one place only
        self._lineno = py_func.__code__.co_firstlineno
        self._locator = _Locator(directory, stamp)
        module = os.path.splitext(os.path.basename(py_func.__code__.co_filename))[0]
        fullname = f"{module}.{py_func.__qualname__}"
        self._filename_base = self.get_filename_base(fullname, getattr(sys, "abiflags", ""))


class SignedCache(FunctionCache):
    """A Numba dispatcher cache under ``directory`` with files signed by ``key``."""

    def __init__(self, py_func, directory, stamp, key):  # noqa: super() would search
        self._name = repr(py_func)
        self._py_func = py_func
        self._impl = _Impl(py_func, directory, stamp)
        self._cache_path = directory
        self._cache_file = _SignedFiles(directory, self._impl.filename_base, stamp, key)
        self._held = {}                        # thread id -> (fd, path) of its compile lock
        self.enable()

    def load_overload(self, sig, target_context):
        """The cached compile result, or None (compile) when there is none or it cannot be
        rebuilt; never an error. Before returning None it takes the signature's compile
        lock, waiting while another process compiles it (whose result is then loaded);
        the lock is held until ``save_overload`` or ``release_locks``."""
        cres = self._load(sig, target_context)
        if cres is not None:
            return cres
        self.release_locks()
        path = f"{self._cache_file._index_path[:-4]}-{_digest(sig, target_context)}.lock"
        fd, _waited = compilelock.acquire(path)
        cres = self._load(sig, target_context)   # saved while we waited, or just before
        if fd is not None:
            if cres is not None:
                compilelock.release(fd, path)
            else:
                self._held[threading.get_ident()] = (fd, path)
        return cres

    def _load(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as e:                 # noqa: BLE001  (a cache is never fatal)
            _warn_once(self._cache_path, f"a cached kernel could not be loaded ({e})")
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as e:                   # read-only or full: keep the compiled code
            _warn_once(self._cache_path, f"compiled code could not be saved ({e})")
        finally:
            self.release_locks()

    def release_locks(self):
        """Let go of the compile lock this thread holds here (its compile ended, saved
        or not); another thread's compile of another signature keeps its own."""
        held = self._held.pop(threading.get_ident(), None)
        if held is not None:
            compilelock.release(*held)


def _digest(sig, target_context):
    """A short name for a signature and the machine code target, as in Numba's index."""
    tag = f"{sig}:{target_context.codegen().magic_tuple()}"
    return hashlib.sha256(tag.encode()).hexdigest()[:16]


_warned = set()


def _warn_once(directory, what):
    if directory not in _warned:
        _warned.add(directory)
        warnings.warn(f"tapejit: compile cache {directory}: {what}; continuing without it",
                      CacheWarning, stacklevel=3)


def attach(dispatcher, directory, stamp, key):
    """Give a Numba dispatcher (compiled without ``cache=True``) the signed cache. Its
    ``compile`` lets go of the cache's compile lock however the compile ends."""
    cache = dispatcher._cache = SignedCache(dispatcher.py_func, directory, stamp, key)
    compile_signature = dispatcher.compile

    def compile(sig):
        try:
            return compile_signature(sig)
        finally:
            cache.release_locks()
    dispatcher.compile = compile
    return dispatcher

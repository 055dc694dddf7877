"""On-disk kernel cache under ``config.cache_dir``: a new process loads machine code
instead of compiling, and nothing in the directory runs unless this library wrote it.

Invariants:
- The directory is used only if it is owned by the user and not writable by group or
  others (it is created 0700; an existing one owned by the user is tightened to 0700).
  Otherwise kernels compile in memory, with one ``CacheWarning`` per directory.
- Kernel Python code is never read back from disk: the module is executed from the
  source the compiler just generated (no ``__pycache__`` bytecode is consulted). The
  source is also written to ``k_<hash>.py`` (mode 0600) for people and tracebacks.
- Numba's index and object-code files are authenticated with a per-user secret key
  (``.key``, 0600, in the directory) before they are unpickled (``runtime.numbacache``);
  damaged or foreign files are deleted and the kernel is compiled and saved again.
- Kernel modules are registered in ``sys.modules`` (Numba resolves a loaded kernel's
  module by name) only while the runtime holds the kernel: ``release`` removes them.
"""
import contextlib
import hashlib
import os
import secrets
import stat
import sys
import threading
import types
import warnings

import numba

from runtime import numbacache
from runtime.numbacache import CacheWarning

FORMAT = 3
_KEY_FILE = ".key"
_lock = threading.Lock()
_keys = {}                 # directory -> secret key (directories that passed the checks)
_warned_dirs = set()


def module_digest(filename):
    """Digest of a runtime module's source (``filename`` next to this file). Numba keys
    its cache on a kernel's own code alone, so the source of helpers that kernels inline
    must be part of every entry's name, or a changed helper would keep running stale
    machine code."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


HELPERS = (module_digest("vecmath.py") + module_digest("vecmath64.py")    # kernels inline
           + module_digest("vecmath_special.py") + module_digest("irmath.py")    # them all
           + module_digest("specfun.py"))
# helpers only some kernels import, named in their source: their digest goes into those
# kernels' entries alone (a change to one leaves every other kernel's cache valid)
OPTIONAL_HELPERS = {"runtime.vecmax": module_digest("vecmax.py")}


def entry_name(source):
    """``k_<hash>`` of the source, the Numba and Python versions, the helpers and the
    format version."""
    helpers = HELPERS + "".join(d for m, d in OPTIONAL_HELPERS.items() if m in source)
    tag = f"{FORMAT}:{numba.__version__}:{sys.version_info[:2]}:{helpers}:{source}"
    return "k_" + hashlib.sha256(tag.encode()).hexdigest()[:24]


def _uid():
    return os.getuid()


def _dir_problem(path):
    """Why ``path`` must not hold executable cache files, or None if it may."""
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != _uid():
        return f"it is owned by uid {st.st_uid}, not by this user (uid {_uid()})"
    if st.st_mode & 0o022:
        return (f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"make it private with chmod 700")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return None


def _secret_key(path):
    """The directory's per-user key, created 0600 on first use."""
    key_path = os.path.join(path, _KEY_FILE)
    with contextlib.suppress(FileExistsError):
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    fd = os.open(key_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if st.st_uid != _uid() or st.st_mode & 0o077 or not stat.S_ISREG(st.st_mode):
            raise PermissionError(f"key file {key_path} is not a private file of this user")
        key = f.read()
    if len(key) != 32:
        raise OSError(f"key file {key_path} is damaged; delete it to start a new cache")
    return key


def directory_key(cache_dir):
    """The secret key of a usable cache directory, or None (with one warning per
    directory) when it cannot be used safely."""
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        problem = _dir_problem(cache_dir)
        if problem is None:
            with _lock:
                key = _keys.get(cache_dir)
                if key is None:
                    key = _keys[cache_dir] = _secret_key(cache_dir)
            return key
        reason = f"refusing to use it: {problem}"
    except OSError as e:
        reason = f"it is not usable ({e})"
    with _lock:
        first = cache_dir not in _warned_dirs
        _warned_dirs.add(cache_dir)
    if first:
        warnings.warn(f"tapejit: compile cache directory {cache_dir!r}: {reason}; compiling "
                      f"in memory only", CacheWarning, stacklevel=4)
    return None


def load_kernel(source, cache_dir):
    """The ``kernel`` function of ``source`` (generated Numba source without ``cache=``),
    with the signed disk cache under ``cache_dir`` attached when the directory is usable.
    Returns ``(function, module_name)``; pass the name to ``release`` when done."""
    key = directory_key(cache_dir) if cache_dir else None
    name = entry_name(source)
    if key is None:
        return _exec(source, "<tapejit kernel>", None), None
    path = os.path.join(cache_dir, name + ".py")
    modname = "tapejit_" + name
    fn = _exec(source, path, modname)
    try:
        _write_source(path, source)
    except OSError:
        pass                                   # the source file is for people only
    numbacache.attach(fn, cache_dir, name, key)
    return fn, modname


_once = {}
_once_lock = threading.Lock()


def load_once(key, source, cache_dir):
    """``load_kernel``'s function for ``source`` (a string, or a callable building it),
    loaded the first time ``key`` is asked for and kept for the process: natively
    implemented calls (runtime.calls) fetch their kernels by a key cheaper than their
    source."""
    with _once_lock:
        fn = _once.get(key)
        if fn is None:
            text = source() if callable(source) else source
            fn = _once[key] = load_kernel(text, cache_dir)[0]
    return fn


def on_disk(source, cache_dir):
    """Whether compiled code for ``source`` is in the disk cache (an index file exists)."""
    if not cache_dir:
        return False
    name = entry_name(source)
    version = f"py{sys.version_info[0]}{sys.version_info[1]}{getattr(sys, 'abiflags', '')}"
    return os.path.exists(os.path.join(cache_dir, f"{name}.kernel-{name[:12]}.{version}.nbi"))


def _exec(source, filename, modname):
    module = types.ModuleType(modname or "tapejit_kernel_memory")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    if modname is not None:
        sys.modules[modname] = module
    return module.kernel


def _write_source(path, source):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == source:
                return
    except (OSError, UnicodeDecodeError):
        pass
    numbacache.write_plain(path, source.encode())


def release(modname):
    """Forget a kernel module registered by ``load_kernel``."""
    if modname is not None:
        sys.modules.pop(modname, None)

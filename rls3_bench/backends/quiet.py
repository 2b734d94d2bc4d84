"""Silencing output that C libraries write straight to file descriptors 1 and 2 (pybullet's import
banner, the EGL plugin's GL strings), which Python's own redirection does not reach."""

from __future__ import annotations

import contextlib
import ctypes
import os


@contextlib.contextmanager
def quiet_c_output():
    """Silence C-level stdout and stderr (the EGL plugin prints its GL strings when it starts and stops)."""
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no such descriptors: nothing to silence
        yield
        return
    libc = ctypes.CDLL(None)
    try:
        libc.fflush(None)
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
        yield
    finally:
        libc.fflush(None)
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)

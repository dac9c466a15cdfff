"""What every worker process does first: tie its life to the server's, send its output to its log, and keep
mlx-lm's terminal UI quiet. Runs in worker processes (training ranks, the sampler, export); imports no MLX
itself."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # prctl(2): the signal the kernel sends this process when its parent dies
ORPHAN_CHECK_SECONDS = 0.5
EXIT_ORPHANED = 75  # the server is gone: nobody to train for


def redirect_output(log_path: Path) -> None:
    """Send fd 1 and 2 to the log so that native (MLX) output lands there too."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # New line-buffered streams: the inherited ones may be missing (a server without a terminal).
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def quiet_mlx_lm() -> None:
    """mlx-lm draws a terminal progress UI; progress reaches the server as events instead."""
    from mlx_lm.cli_ui import make_console

    make_console().quiet = True


def die_with_the_server() -> None:
    """A worker must not outlive its server: a restarted server would run another job beside it (two
    trainings under --max-concurrent-jobs 1), or this job twice. On Linux the kernel kills the worker
    when the server dies; elsewhere a watchdog thread sees the worker orphaned and ends it."""
    server = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # it died before prctl took effect
        os._exit(EXIT_ORPHANED)

    def watch() -> None:
        while True:
            time.sleep(ORPHAN_CHECK_SECONDS)  # a timer: nothing signals a parent's death portably
            if os.getppid() != server:
                os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="droidft-orphan-watch", daemon=True).start()

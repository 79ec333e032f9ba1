"""Q-REL: a server process learns that it is being stopped, so its open streams end.

Consoles, integrations and boards hold server-sent event streams open for minutes.
When a server process is stopped (a rolling upgrade, a restart), granian stops taking
new connections and waits for the requests in hand; a stream never finishes by itself,
so granian would kill the process after its grace period and every console on it
would see a broken connection. Instead each stream asks ``stopping()`` (or waits with
``wait()``) and ends at once with a hint to come back soon, and the browser reconnects
to a process still running.

A granian worker process is told to stop with SIGTERM (from granian's main process,
or from a service manager) or SIGINT (Ctrl-C in a terminal). Granian's worker keeps
those signals for itself: it installs its own handlers once the application is loaded,
replacing any of ours. Python's wakeup file descriptor (``signal.set_wakeup_fd``)
still hears them: the interpreter writes the number of every signal that has a Python
handler to it, whoever's handler that is, so a thread reading it learns of the stop
without taking the signal from the server. ``watch_signals()`` sets that up; the WSGI
module calls it as it is loaded, in the process's main thread.

That thread also makes sure granian's own handler runs. Python runs signal handlers
in the main thread only, the next time it runs Python code; granian's main thread
sleeps on a lock until its handler has run, and the kernel may hand the signal to
another thread, which does not wake it. Then the handler never runs and the process
is killed after the grace period. Seen with Ctrl-C under ``lonewatch run`` about one
time in ten. So the watcher nudges the main thread with a signal of its own (WAKE, a
handler that does nothing): it wakes, and runs the handlers pending. Re-sending the
stop signal instead would run granian's handler once more than the signals received,
and its third call blocks for ever.
"""

import logging
import signal
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
WAKE = signal.SIGUSR2  # sent by this process to its own main thread only

_stopping = threading.Event()
_callbacks: list[Callable[[], None]] = []
_lock = threading.Lock()
_watching = False


def stopping() -> bool:
    """Is this process being stopped?"""
    return _stopping.is_set()


def wait(timeout: float) -> bool:
    """Sleep up to ``timeout`` seconds, but wake at once if the process is being stopped
    (True)."""
    return _stopping.wait(max(0.0, timeout))


def on_stop(callback: Callable[[], None]) -> None:
    """Call ``callback`` (once, from another thread) when the process is being stopped:
    for what waits on something other than ``wait()``."""
    with _lock:
        if not _stopping.is_set():
            _callbacks.append(callback)
            return
    callback()


def begin() -> None:
    """The process is being stopped: wake everything that waits, once."""
    with _lock:
        if _stopping.is_set():
            return
        _stopping.set()
        callbacks = list(_callbacks)
    log.info("stopping: ending open event streams")
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # One broken callback must not keep the others' streams open.
            log.exception("a stop callback failed")


def watch_signals() -> bool:
    """Learn of SIGTERM and SIGINT through the wakeup file descriptor (see above).

    Only the main thread may set it; elsewhere (a development server that loads the
    application in a thread) and where something else already reads it (an event loop)
    this does nothing and returns False."""
    global _watching
    if _watching or threading.current_thread() is not threading.main_thread():
        return _watching
    reader, writer = socket.socketpair()
    writer.setblocking(False)  # the interpreter must never block writing a signal
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    if previous != -1:
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()
        return False
    wake = signal.getsignal(WAKE) == signal.SIG_DFL
    if wake:
        signal.signal(WAKE, _woken)
    _watching = True
    threading.Thread(target=_read_signals, args=(reader, writer, wake), name="stop-signals",
                     daemon=True).start()
    return True


def _woken(_number, _frame) -> None:
    """WAKE's handler: nothing to do; being run is the point (see above)."""


def _read_signals(reader: socket.socket, writer: socket.socket, wake: bool) -> None:
    # ``writer`` stays referenced here: closing it would close the descriptor. This
    # thread never takes a stop signal itself.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    main = threading.main_thread().ident
    while True:
        try:
            numbers = reader.recv(64)
        except OSError:
            log.exception("the stop-signal watcher failed; open streams will not end early")
            return
        if not numbers:
            return
        if STOP_SIGNALS.intersection(numbers):
            begin()
            if wake:
                signal.pthread_kill(main, WAKE)

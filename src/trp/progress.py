"""Progress of the long phases of a `trp` command (evaluation, decomposition, allocation, latency
measurement): one line on stderr when a phase has run for DELAY_S seconds, naming what it does and
its counts, and one when it ends, with its time. A phase that ends sooner prints nothing, so a quick
command (or a refusal) stays as quiet as before."""
import sys
import threading
import time
from contextlib import contextmanager

DELAY_S = 2.0


def say(text: str) -> None:
    print(f"trp: {text}", file=sys.stderr, flush=True)


@contextmanager
def phase(what: str, enabled: bool = True):
    """`with phase("evaluating the decomposed network on 10000 test images"): ...`"""
    if not enabled:
        yield
        return
    t0 = time.perf_counter()
    started = threading.Event()

    def start():
        started.set()
        say(f"{what} ...")

    timer = None
    if DELAY_S <= 0:
        start()
    else:
        timer = threading.Timer(DELAY_S, start)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
    if started.is_set():
        say(f"{what}: done in {time.perf_counter() - t0:.1f} s")

"""The driver's clock: time as the engine sees it, injectable so tests need not sleep.

The driver reads `monotonic()`, pauses with `sleep()` and waits for its calls with `wait()`;
the fake provider's handlers pause with `wait_for()`. Tests pass a clock they advance
(tests/fixtures/clock.py). Leases never use it: they follow the database's clock.
"""

import time
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import wait as wait_futures


class SystemClock:
    def monotonic(self):
        return time.monotonic()

    def sleep(self, seconds):
        time.sleep(seconds)

    def wait(self, futures, timeout):
        """(done, not done) once the first of `futures` finishes, or after `timeout`."""
        return wait_futures(futures, timeout=timeout, return_when=FIRST_COMPLETED)

    def wait_for(self, seconds, event=None):
        """Pause `seconds`, or less if `event` is set meanwhile (a server stopping)."""
        if event is None:
            time.sleep(seconds)
        else:
            event.wait(seconds)

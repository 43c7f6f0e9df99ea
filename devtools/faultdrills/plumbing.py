"""What the fault drills share: a fake noting when calls start, a supervised cluster, batches."""

import os
import signal
import threading
import time

from devtools.fakefusion.data import CATALOGUE
from devtools.fakefusion.server import FakeFusion
from orders.imei import with_check_digit
from orders.models import Batch, Order, Service

RESTART_SECONDS = 5  # deploy/systemd/portal-qcluster.service: RestartSec=5


class RecordingFake(FakeFusion):
    """The fake provider, noting when each placeorder reached it (this process's monotonic)."""

    def __init__(self, **options):
        super().__init__(**options)
        self.starts = []

    def _placeorder(self, params):
        self.starts.append(time.monotonic())  # list.append is atomic
        return super()._placeorder(params)


class Supervisor:
    """Keeps one cluster running: restarted RESTART_SECONDS after it exits, like systemd."""

    def __init__(self, start):
        self.start, self.restarts = start, 0
        self.process = start()
        self._stopping = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def kill(self):
        kill_group(self.process.pid)

    def stop(self):
        self._stopping.set()
        self.kill()

    def _watch(self):
        while not self._stopping.wait(0.5):
            if self.process.poll() is None:
                continue
            kill_group(self.process.pid)  # systemd's KillMode=control-group: no stragglers
            if self._stopping.wait(RESTART_SECONDS):
                return
            self.process, self.restarts = self.start(), self.restarts + 1


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def make_batch(orders, first=0):
    """A batch of `orders` drill IMEIs, numbered from `first` (distinct across batches)."""
    service, _ = Service.objects.update_or_create(
        id=CATALOGUE[0][0], defaults={"title": CATALOGUE[0][1], "price": CATALOGUE[0][3]}
    )
    batch = Batch.objects.create(service=service, source_name="drill")
    Order.objects.bulk_create(
        Order(batch=batch, service=service, imei=drill_imei(first + i)) for i in range(orders)
    )
    return batch


def drill_imei(n):
    return with_check_digit(f"35{9_000_000_000 + n:012d}")

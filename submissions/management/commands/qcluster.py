"""`manage.py qcluster`: django-q2's command, with a SIGTERM that lets the driver finish.

It overrides django_q's command (this app is listed before django_q in INSTALLED_APPS). See
submissions/driver/shutdown.py for why and how.
"""

import logging
import os

from django.conf import settings
from django.db import DatabaseError, connection
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from submissions import exporter, health
from submissions.driver import shutdown

log = logging.getLogger(__name__)

SENTINEL_DEATH_SECONDS = 0.5  # a group-wide SIGTERM kills the sentinel at once
# The main process beats this often while its sentinel lives, so /health/ sees a dead cluster
# within HEALTH_WORKER_STALE_SECONDS (45 s: three beats missed), not after the every-minute
# tasks' 150 s.
BEAT_SECONDS = 15


class GracefulCluster(Cluster):
    def sig_handler(self, signum, frame):
        """Tell the workers first (a running driver drains), then stop as django-q does.

        When the whole process group got the signal (systemd), the sentinel is already dead
        (django-q leaves it SIG_DFL): the workers got the signal too, and the stop event must
        not be touched, since the sentinel may have died holding its lock (django-q's own
        handler then hangs forever). When only this process got it (docker), the stop event
        is set before the workers are signalled, so the sentinel does not replace the idle
        workers the signal ends, and it then waits for the driver to drain and exit.
        """
        if self.stop_event is None or self.sentinel is None:
            return super().sig_handler(signum, frame)
        if not shutdown.still_running(self.sentinel.pid, SENTINEL_DEATH_SECONDS):
            return None  # the remaining workers finish on their own; nothing left to stop
        self.stop_event.set()
        shutdown.signal_children(self.sentinel.pid, signum)
        return super().sig_handler(signum, frame)


class Command(qcluster.Command):
    def handle(self, *args, **options):
        # As django_q's handle(), with the graceful cluster.
        settings.SECRET_KEY  # noqa: B018 (raises if unset: the cluster signs its tasks)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        if settings.PROMETHEUS_MULTIPROC_DIR:
            exporter.clear_directory()
        cluster = GracefulCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
            return
        # After start(): the forked sentinel and workers must not inherit the listening socket.
        exporter.serve()
        beat_while_alive(cluster)


def beat_while_alive(cluster):
    """Writes the heartbeat every BEAT_SECONDS until the sentinel exits (a stop or a crash).

    After start() the sentinel and its workers run in processes of their own; this process
    only waits for them, so it can beat. A database error skips one beat.
    """
    while cluster.sentinel is not None and cluster.sentinel.is_alive():
        try:
            health.beat()
        except DatabaseError as exc:
            log.warning("Cluster heartbeat not written: %s", exc)
            connection.close()
        cluster.sentinel.join(BEAT_SECONDS)

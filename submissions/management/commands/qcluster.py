"""`manage.py qcluster`: django-q2's command, with a SIGTERM that lets the driver finish.

It overrides django_q's command (this app is listed before django_q in INSTALLED_APPS). See
submissions/shutdown.py for why and how.
"""

import os

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from submissions import shutdown

SENTINEL_DEATH_SECONDS = 0.5  # a group-wide SIGTERM kills the sentinel at once


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
        cluster = GracefulCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()

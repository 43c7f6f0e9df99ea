"""Start the whole portal on one machine: the fake provider, a worker cluster, the web server.

`make demo` runs this. It prints the admin login, then serves until Ctrl-C, which stops the
children too. Everything runs against the SQLite file and the fake provider on 127.0.0.1.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError, call_command

from devtools.management.commands.fakefusion import rate


class Command(BaseCommand):
    help = "Run the demo: fake provider, qcluster and runserver, with an admin login printed."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web server port")
        parser.add_argument("--provider-port", type=int, default=8765)
        parser.add_argument("--latency", type=float, default=2.0, help="fake provider latency (s)")
        parser.add_argument("--complete-after", type=float, default=20.0)
        # Things go wrong in the demo as they do in real life, so every state and every
        # action (re-submit, the errors table) can be tried.
        parser.add_argument(
            "--refuse-rate", type=rate, default=0.04, help="share of orders that fail"
        )
        parser.add_argument(
            "--reject-rate", type=rate, default=0.03, help="share of orders Rejected"
        )

    def handle(self, *args, **options):
        # It resets the admin password and fakes the provider: never against a real database.
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError("The demo runs on its own SQLite file: unset DATABASE_URL.")
        # The fake completes orders in seconds: poll as often, so results show up quickly.
        os.environ.setdefault("STATUS_POLL_SECONDS", "5")
        # The demo always talks to its own fake provider, never to a real (paying) account.
        provider_url = f"http://127.0.0.1:{options['provider_port']}"
        os.environ["GSM_FUSION_BASE_URL"] = settings.GSM_FUSION_BASE_URL = provider_url
        call_command("migrate", interactive=False, verbosity=0)
        password = self.ensure_admin()
        children = [self.start_provider(options), self.start_cluster()]
        # SIGTERM (a process manager, `kill`) stops the demo like Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            call_command("syncservices")
            self.print_banner(options, password)
            web = start([sys.executable, "manage.py", "runserver", f"127.0.0.1:{options['port']}"])
            children.append(web)
            web.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                stop(child)

    def ensure_admin(self):
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        return password

    def start_provider(self, options):
        port = options["provider_port"]
        command = [
            sys.executable, "manage.py", "fakefusion", "--port", str(port),
            "--latency", str(options["latency"]), "--jitter", str(options["latency"] / 4),
            "--complete-after", str(options["complete_after"]),
            "--refuse-rate", str(options["refuse_rate"]),
            "--reject-rate", str(options["reject_rate"]),
        ]  # fmt: skip
        child = start(command)
        wait_for_port(port)
        return child

    def start_cluster(self):
        return start([sys.executable, "manage.py", "qcluster"])

    def print_banner(self, options, password):
        port = options["port"]
        faults = f"{options['refuse_rate']:.0%} of orders and rejects {options['reject_rate']:.0%}"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nPortal:   http://127.0.0.1:{port}/admin/\n"
                f"Login:    admin / {password}\n"
                f"Provider: fake GSM Fusion at {settings.GSM_FUSION_BASE_URL}\n"
                "Try:      Orders > Import, upload a CSV with an IMEI column or paste IMEIs.\n"
                f"Faults:   the fake provider fails {faults}: re-submit\n"
                "          the failed ones from the batch page.\n"
                "Stop:     Ctrl-C\n"
            )
        )


def start(command):
    # A session of its own, so stopping it reaches the whole tree (runserver's reloader,
    # qcluster's workers).
    return subprocess.Popen(command, start_new_session=True)


def stop(child, grace=10):
    # qcluster waits for a running driver (up to DRIVER_SECONDS) on SIGTERM; the demo does not
    # wait that long. A call cut short leaves its order `unknown`, never sent twice.
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=grace)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)


def wait_for_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Nothing listens on 127.0.0.1:{port} after {timeout} s")

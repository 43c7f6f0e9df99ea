"""`python -m devtools.benchmark.cluster`: `manage.py qcluster`, counting its queries.

The engine has no query-count hook, so this launcher adds one from outside: every database
connection of every cluster process gets an execute wrapper that counts queries, and each
process writes its count to `$BENCHMARK_QUERY_DIR/<pid>.count` at most every 0.2 s. Workers
are forked, so a child starts its own count at zero. The cluster is otherwise the real one.
"""

import itertools
import os
import time
from pathlib import Path

FLUSH_SECONDS = 0.2


class QueryCounter:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self):
        self.counter = itertools.count(1)
        self.count = 0
        self.flushed_at = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count = next(self.counter)
        now = time.monotonic()
        if now - self.flushed_at >= FLUSH_SECONDS:
            self.flushed_at = now
            (self.directory / f"{os.getpid()}.count").write_text(str(self.count))
        return execute(sql, params, many, context)

    def install(self, sender, connection, **kwargs):
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.backends.signals import connection_created

    counter = QueryCounter(os.environ["BENCHMARK_QUERY_DIR"])
    connection_created.connect(counter.install, weak=False)
    call_command("qcluster")


if __name__ == "__main__":
    main()

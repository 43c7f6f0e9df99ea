"""The test suite's settings: the production settings with a key of the suite's own.

portal/settings.py refuses to start without SECRET_KEY when DEBUG is off, which the suite is
(as production). The key is set in the environment, so the qcluster and gunicorn processes the
tests start inherit it with DJANGO_SETTINGS_MODULE.

INSTANCE_NAME too: its default comes from the database's name, and the qcluster processes the
tests start are given the test database (`test_...`), while this process read its settings
with the database it was configured with. Tasks enqueued here must reach those clusters.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-any-deployment-0123456789")

from portal.settings import *  # noqa: E402, F403
from portal.settings import INSTANCE_NAME  # noqa: E402

os.environ.setdefault("INSTANCE_NAME", INSTANCE_NAME)

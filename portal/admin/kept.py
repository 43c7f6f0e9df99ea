"""An upload kept between the import's pages: "Change" on the confirm page and a re-check
after bad rows go back to the form without choosing the file again.

The form carries a signed token naming the stored upload (in IMPORT_TMP_DIR) and the file's
own name; nothing else can be read through it. Using it claims the stored copy (rename, read,
delete), so the page it came from can no longer create a batch from it: one upload still
makes at most one batch.
"""

import os

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile

KEPT_SALT = "portal.import.kept-file"
KEPT_MAX_AGE = 24 * 3600


class KeptFileGone(Exception):
    """The kept upload was used, confirmed or cleaned away."""


def kept_token(stored_name, original_name):
    return signing.dumps([os.path.basename(stored_name), original_name], salt=KEPT_SALT)


def kept_name(token):
    """The file's own name for the page, or '' for a token that is not ours."""
    try:
        return signing.loads(token, salt=KEPT_SALT, max_age=KEPT_MAX_AGE)[1]
    except (signing.BadSignature, ValueError, IndexError, TypeError):
        return ""


def take_kept(token):
    """The kept upload as a new upload of the same name; KeptFileGone when it is not there."""
    try:
        stored, original = signing.loads(token, salt=KEPT_SALT, max_age=KEPT_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise KeptFileGone from exc
    path = os.path.join(settings.IMPORT_TMP_DIR, stored)
    taken = f"{path}.taken"
    try:
        os.rename(path, taken)
    except FileNotFoundError as exc:
        raise KeptFileGone from exc
    with open(taken, "rb") as file:
        data = file.read()
    os.remove(taken)
    return SimpleUploadedFile(original, data)

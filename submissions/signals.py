"""What the processing side tells the layers above it, without importing them."""

from django.dispatch import Signal

# A batch moved to done (claims.finish_batches), sent once per batch with `batch`. The
# portal mails its results to the importer (portal/results_mail.py).
batch_finished = Signal()

"""Each user's settings for the mails the portal sends them."""

from django.conf import settings
from django.db import models


class MailSetting(models.Model):
    """A user's own settings for the mails the portal sends them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_setting"
    )
    batch_results = models.BooleanField(
        "e-mail me my batches' results",
        default=False,
        help_text="When a batch you imported finishes: its counts, its spend and the results "
        "file (a link instead when the file is large).",
    )

    def __str__(self):
        return f"Mail settings of {self.user}"

    @classmethod
    def wants_results(cls, user):
        return cls.objects.filter(user=user, batch_results=True).exists()

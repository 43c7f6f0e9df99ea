"""Tables of exactly one row: the dispatcher, the controls, the breaker, the canary."""


class OneRow:
    """For a table of exactly one row (id ROW_ID): the dispatcher, the controls, the breaker."""

    ROW_ID = 1

    @classmethod
    def get(cls):
        return cls.objects.get_or_create(pk=cls.ROW_ID)[0]

    @classmethod
    def row(cls):
        """The row as a queryset, for conditional UPDATEs and locks."""
        return cls.objects.filter(pk=cls.ROW_ID)

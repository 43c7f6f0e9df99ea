"""The staff UI: the Django admin pages for services, batches and orders.

The top layer: it reads the domain (`orders`) and calls the engine's services (`submissions`);
nothing below imports it. `registry` registers the ModelAdmins when the admin autodiscovers;
`monitoring` registers the live controls and the alerts.
"""

from . import monitoring, registry  # noqa: F401

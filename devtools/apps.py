from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development tools: the fake provider, the benchmark and the demo. Not for production."""

    name = "devtools"
    verbose_name = "Development tools"

    def ready(self):
        from django.core import checks

        checks.register(warn_in_production, checks.Tags.security, deploy=True)


def warn_in_production(app_configs, **kwargs):
    from django.core.checks import Warning

    return [
        Warning(
            "The development tools (fake provider, benchmark, demo) are installed.",
            hint="Set DEV_TOOLS=0 in production.",
            id="devtools.W001",
        )
    ]

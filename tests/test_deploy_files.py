"""The deploy files agree with each other and with the code: what compose builds exists, the
commands name modules and files that exist, the environment names are the README's, migrations
run once before the web and the cluster, logs are bounded, the stop timeouts match.

Read as files (YAML, the Dockerfile's instructions, systemd's key=value), not run: the test
suite never pulls images."""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from submissions.driver.shutdown import STOP_SECONDS
from tests.fixtures.env_table import configuration_table

BASE = Path(settings.BASE_DIR)
DEPLOY = BASE / "deploy"
PORTAL_SERVICES = ("migrate", "web", "qcluster")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def dockerfile():
    """[(instruction, arguments)], continuation lines joined."""
    text = (BASE / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def unit(name):
    return dict(
        line.split("=", 1)
        for line in (DEPLOY / "systemd" / name).read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )


def readme_variables():
    return configuration_table((BASE / "README.md").read_text())


def command_of(service):
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


def assert_runs_the_portal(command):
    """`python manage.py <command>` or gunicorn with the portal's config and WSGI module."""
    if command[0] == "python":
        assert command[1] == "manage.py" and (BASE / "manage.py").exists()
        return
    assert command[0] == "gunicorn"
    config = command[command.index("-c") + 1]
    assert config.startswith("python:") and importlib.util.find_spec(config[len("python:") :])
    assert "portal.wsgi" in command and importlib.util.find_spec("portal.wsgi")


def test_compose_builds_from_a_dockerfile_that_exists(compose):
    for name in PORTAL_SERVICES:
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert (context / build["dockerfile"]).is_file(), name
        assert context == BASE


def test_migrations_run_once_and_the_web_and_cluster_wait_for_them(compose):
    services = compose["services"]
    assert command_of(services["migrate"]) == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "qcluster"):
        assert "migrate" not in " ".join(command_of(services[name])), name
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert_runs_the_portal(command_of(services[name]))


def test_every_service_keeps_bounded_logs(compose):
    for name, service in compose["services"].items():
        assert service["logging"] == {
            "driver": "json-file",
            "options": {"max-size": "20m", "max-file": "5"},
        }, name


def test_compose_sets_only_variables_the_readme_documents(compose):
    documented = readme_variables()
    for name in PORTAL_SERVICES:
        assert set(compose["services"][name]["environment"]) <= documented, name
    example = (DEPLOY / "portal.env.example").read_text()
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert names and names <= documented


def test_the_image_installs_by_hash_collects_static_and_runs_gunicorn_unprivileged(dockerfile):
    instructions = dict(dockerfile)  # the last of each kind
    assert re.fullmatch(r"python:3\.\d+-slim", instructions["FROM"])
    runs = [args for kind, args in dockerfile if kind == "RUN"]
    assert "pip install --require-hashes -r requirements.txt" in runs
    assert any(args.endswith("python manage.py collectstatic --noinput") for args in runs)
    assert instructions["USER"] not in ("root", "0")
    copied = [args.split()[0] for kind, args in dockerfile if kind == "COPY"]
    assert all((BASE / path).exists() for path in copied)
    cmd = yaml.safe_load(instructions["CMD"])  # a JSON array
    assert_runs_the_portal(cmd)
    assert cmd[-2:] == ["--bind", "0.0.0.0:8000"]


def test_the_image_leaves_out_the_virtualenv_and_local_data():
    ignored = (BASE / ".dockerignore").read_text().split()
    assert {".venv", ".git", "db/", "staticfiles/", "deploy/portal.env"} <= set(ignored)


def test_systemd_and_compose_run_the_same_commands_and_stop_timeouts(compose):
    web, cluster = unit("portal-web.service"), unit("portal-qcluster.service")
    web_command = shlex.split(web["ExecStart"])
    assert web_command[0] == "/srv/portal/.venv/bin/gunicorn"
    assert web_command[1:-2] == command_of(compose["services"]["web"])[1:-2]
    assert shlex.split(cluster["ExecStart"])[1:] == command_of(compose["services"]["qcluster"])[1:]
    assert cluster["TimeoutStopSec"] == "130"
    assert compose["services"]["qcluster"]["stop_grace_period"] == "130s"
    # The cluster's own stop bound (its drain, then answers retried) fits in both.
    assert STOP_SECONDS < int(cluster["TimeoutStopSec"])
    assert web["EnvironmentFile"] == cluster["EnvironmentFile"] == "/etc/portal/portal.env"


def test_the_clusters_metrics_directory_is_its_own_in_both(compose):
    cluster_env = dict(
        item.split("=", 1) for item in unit("portal-qcluster.service")["Environment"].split()
    )
    assert (
        cluster_env["PROMETHEUS_MULTIPROC_DIR"]
        == "/run/" + unit("portal-qcluster.service")["RuntimeDirectory"]
    )
    environment = compose["services"]["qcluster"]["environment"]
    tmpfs = compose["services"]["qcluster"]["tmpfs"][0].split(":")[0]
    assert environment["PROMETHEUS_MULTIPROC_DIR"] == tmpfs
    assert set(cluster_env) <= readme_variables()
    assert "PROMETHEUS_MULTIPROC_DIR" not in compose["services"]["web"]["environment"]

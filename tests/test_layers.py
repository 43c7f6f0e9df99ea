"""The layers import one way: orders <- submissions (its provider client knows no models) <- portal.

Read from the source with `ast`, so a new import in the wrong direction fails here by name.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

# For each layer, the packages it must never import.
FORBIDDEN = {
    "orders": ("submissions", "portal", "devtools"),
    "submissions/provider": ("orders", "submissions.models", "portal", "devtools", "django.db"),
    "submissions": ("portal", "devtools"),
    "portal": ("devtools",),
}


def imported_modules(relative_path, source):
    """Every module the source imports, relative imports resolved from the file's place."""
    package = Path(relative_path).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] + tuple(filter(None, [node.module]))
            yield ".".join(base)
            yield from (".".join((*base, alias.name)) for alias in node.names)


def layer_files(layer):
    return sorted((Path(settings.BASE_DIR) / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", FORBIDDEN)
def test_a_layer_imports_nothing_above_it(layer):
    wrong = [
        f"{relative} imports {module}"
        for path in layer_files(layer)
        for relative in [path.relative_to(settings.BASE_DIR)]
        for module in imported_modules(relative, path.read_text())
        if module.startswith(FORBIDDEN[layer])
    ]

    assert wrong == []


def test_the_provider_client_is_found_and_checked():
    assert "client.py" in {path.name for path in layer_files("submissions/provider")}


@pytest.mark.parametrize(
    "source, module",
    [
        ("from ..models import Dispatcher", "submissions.models"),
        ("from .. import models", "submissions.models"),
        ("from orders.models import Order", "orders.models"),
    ],
)
def test_relative_imports_are_resolved_to_the_module_they_name(source, module):
    assert module in set(imported_modules("submissions/provider/client.py", source))


# -- the tests themselves: helpers live in tests/fixtures/, never in another test module ---------


def imported_test_modules(relative_path, source):
    """The test modules (tests/**/test_*.py) that a source imports, by dotted name."""
    names = set(imported_modules(relative_path, source))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(
        name
        for name in names
        if name.split(".")[0] == "tests"
        and any(part.startswith("test_") for part in name.split(".")[1:])
    )


def test_no_test_module_imports_another_test_module():
    wrong = [
        f"{relative} imports {module}"
        for path in layer_files("tests")
        for relative in [path.relative_to(settings.BASE_DIR)]
        for module in imported_test_modules(relative, path.read_text())
    ]

    assert wrong == []


@pytest.mark.parametrize(
    "source, module",
    [
        ("from tests.test_engine import run", "tests.test_engine"),
        ("from tests import test_engine", "tests.test_engine"),
        ("import tests.driver.test_loop", "tests.driver.test_loop"),
        ("from .test_loop import run", "tests.driver.test_loop"),
        ("from ..test_engine import run", "tests.test_engine"),
    ],
)
def test_an_import_of_a_test_module_is_found_in_every_form(source, module):
    assert module in imported_test_modules("tests/driver/test_recording.py", source)


def test_an_import_of_a_fixtures_module_is_allowed():
    source = "from tests.fixtures.driver import ScriptedClient\nfrom tests import fixtures"
    assert imported_test_modules("tests/driver/test_recording.py", source) == []

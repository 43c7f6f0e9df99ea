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

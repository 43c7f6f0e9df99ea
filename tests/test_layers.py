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


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def layer_files(layer):
    return sorted((Path(settings.BASE_DIR) / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", FORBIDDEN)
def test_a_layer_imports_nothing_above_it(layer):
    wrong = [
        f"{path.relative_to(settings.BASE_DIR)} imports {module}"
        for path in layer_files(layer)
        for module in imported_modules(path)
        if module.startswith(FORBIDDEN[layer])
    ]

    assert wrong == []


def test_the_provider_client_is_found_and_checked():
    assert "client.py" in {path.name for path in layer_files("submissions/provider")}

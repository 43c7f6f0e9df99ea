"""Every environment variable portal/settings.py reads has a row in the README's Configuration
table (and every row is read), found from the source with `ast`: a new variable without its
row fails here by name."""

import ast
from pathlib import Path

from django.conf import settings

from tests.fixtures.env_table import configuration_table

HELPERS = {"env_str", "env_bool", "env_int", "env_list", "env_decimal"}


def variables_read(source):
    """The names passed to the env helpers, os.environ.get and os.getenv; a name that is not a
    literal is reported as such, since it could not be checked."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not reads_environment(node.func):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
        elif not inside_helper(node, source):
            names.add(f"<not a literal at line {node.lineno}>")
    return names


def reads_environment(func):
    if isinstance(func, ast.Name):
        return func.id in HELPERS
    text = ast.unparse(func)
    return text in ("os.environ.get", "os.getenv")


def inside_helper(node, source):
    """The helpers themselves read `name` (and `{name}_FILE`): their callers are checked."""
    tree = ast.parse(source)
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef) and function.name in HELPERS:
            if function.lineno <= node.lineno <= function.end_lineno:
                return True
    return False


def test_every_variable_settings_read_is_in_the_readme_table_and_back():
    base = Path(settings.BASE_DIR)
    read = variables_read((base / "portal" / "settings.py").read_text())
    table = configuration_table((base / "README.md").read_text())

    assert sorted(read - table) == []  # read by settings, missing from the table
    assert sorted(table - read) == []  # in the table, read by nothing


def test_a_new_variable_without_its_row_is_found():
    source = 'import os\nSPEED = env_int("NEW_SPEED", 3)\nX = os.environ.get(name)\n'

    assert variables_read(source) == {"NEW_SPEED", "<not a literal at line 3>"}

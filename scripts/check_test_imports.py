"""Fail when a test module borrows from another test module.

Shared fixtures live in ``tests/conftest.py`` and shared helpers in helper modules under
``tests/`` (``factories.py``, ``url_inventory.py`` ...). A test module that imports from
another ``test_*.py`` module, or imports a private (``_name``) helper from any module of
``tests/``, ties two specs together behind a name that promised to stay local.

Usage: ``python scripts/check_test_imports.py [TESTS_DIR]``; exit 1 listing each offence.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def offences(tests_dir: Path) -> list[str]:
    found = []
    package = tests_dir.name
    for path in sorted(tests_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:  # relative: resolve against the tests package
                    module = f"{package}.{module}" if module else package
                if module != package and not module.startswith(f"{package}."):
                    continue
                leaf = module.rsplit(".", 1)[-1]
                for alias in node.names:
                    if leaf.startswith("test_"):
                        found.append(f"{where}: imports {alias.name} from test module {module}")
                    elif alias.name.startswith("_"):
                        found.append(f"{where}: imports private {alias.name} from {module}")
                    elif module == package and alias.name.startswith("test_"):
                        found.append(f"{where}: imports test module {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(f"{package}.") and alias.name.rsplit(".", 1)[
                        -1
                    ].startswith("test_"):
                        found.append(f"{where}: imports test module {alias.name}")
    return found


def main(argv: list[str]) -> int:
    tests_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "tests"
    problems = offences(tests_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} import(s) between test modules: move the shared helper into a "
            "helper module under tests/ (or a fixture into tests/conftest.py).",
            file=sys.stderr,
        )
        return 1
    print(f"test imports: no test module borrows from another ({tests_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

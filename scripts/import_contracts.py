"""An import-linter contract for `lint-imports` (pyproject.toml): no import circle between modules.

`acyclic_siblings` compares packages, so two rooms that import each other through different
modules count as a circle while a circle across rooms is only seen at the top. This contract
looks at modules: it fails when any module can reach itself through the imports (lazy ones
inside functions included), and names each circle.
"""

from __future__ import annotations

from collections.abc import Iterator

from grimp import ImportGraph
from importlinter.application import contract_utils, output
from importlinter.application.contract_utils import AlertLevel
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _circles(graph: ImportGraph, modules: set[str]) -> Iterator[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for offset, target in enumerate(edges[node][position:], start=position):
                if target not in index:
                    work.append((node, offset + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    circle = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        circle.append(member)
                        if member == node:
                            break
                    if len(circle) > 1:
                        yield sorted(circle)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=AlertLevel.ERROR,
        )
        modules: set[str] = set()
        for package in self.packages:  # type: ignore[attr-defined]
            modules |= graph.find_descendants(package) | {package}
        circles = []
        for circle in _circles(graph, modules):
            members = set(circle)
            imports = [
                (m, t)
                for m in circle
                for t in sorted(graph.find_modules_directly_imported_by(m) & members)
            ]
            circles.append({"modules": circle, "imports": imports})
        return ContractCheck(
            kept=not circles,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"circles": circles},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for circle in check.metadata["circles"]:
            output.print_error(f"These {len(circle['modules'])} modules import each other:")
            for importer, imported in circle["imports"]:
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported}", bold=False)
            output.new_line()

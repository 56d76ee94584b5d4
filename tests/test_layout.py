"""The package's stages import one way: a module imports only its own stage and earlier ones."""

import ast
from pathlib import Path

import pytest

import lenet5_hls
import lenet5_hls.model

# In data-flow order; the contracts (fixed point, pipeline spec) come first because every stage reads them.
STAGES = ['core', 'model', 'frontend', 'golden', 'rtl', 'kinds', 'verify', 'reports', 'flow', 'cli']
PACKAGE_DIRS = {
    'lenet5_hls': Path(lenet5_hls.__file__).parent,
    'lenet5_hls.model': Path(lenet5_hls.model.__file__).parent,
}


def stage_of(module: str) -> str:
    parts = module.split('.')
    assert parts[0] == 'lenet5_hls' and len(parts) > 1, module
    return parts[1]


def package_modules() -> dict[str, Path]:
    found = {}
    for prefix, root in PACKAGE_DIRS.items():
        for path in root.rglob('*.py'):
            rel = path.relative_to(root).with_suffix('')
            name = '.'.join([prefix, *rel.parts]).removesuffix('.__init__')
            found[name] = path
    return found


def imports_of(path: Path) -> set[str]:
    """Every lenet5_hls module a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith('lenet5_hls')}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f'{path}: relative import; the package uses absolute imports'
            if node.module and node.module.startswith('lenet5_hls'):
                found |= {f'{node.module}.{a.name}' if node.module == 'lenet5_hls' else node.module for a in node.names}
    return found


MODULES = package_modules()


def test_every_module_belongs_to_a_stage():
    assert len(MODULES) > 30
    assert not {n for n in MODULES if n != 'lenet5_hls' and stage_of(n) not in STAGES}


@pytest.mark.parametrize('module', sorted(n for n in MODULES if n != 'lenet5_hls'))
def test_imports_point_to_earlier_stages(module):
    rank = STAGES.index(stage_of(module))
    later = sorted(m for m in imports_of(MODULES[module]) if STAGES.index(stage_of(m)) > rank)
    assert not later, f'{module} ({STAGES[rank]}) imports later stages: {later}'


def test_the_check_sees_a_backward_import(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('def f():\n    from lenet5_hls.reports.report import write_report\n')
    assert imports_of(bad) == {'lenet5_hls.reports.report'}
    assert STAGES.index(stage_of('lenet5_hls.reports.report')) > STAGES.index('golden')


def global_state_writes(path: Path) -> list[str]:
    """Writes to os.environ and sys.path: hidden state every later step (and thread) would share."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        target = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            target = next((t.value for t in targets if isinstance(t, ast.Subscript)), None)
            target = target or next((t for t in targets if isinstance(t, ast.Attribute)), None)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ('setdefault', 'update', 'pop', 'clear', 'insert', 'append', 'extend', 'remove'):
                target = node.func.value
            elif ast.unparse(node.func) == 'os.putenv':
                found.append(f'{path.name}:{node.lineno}: os.putenv')
        if target is not None and ast.unparse(target) in ('os.environ', 'sys.path'):
            found.append(f'{path.name}:{node.lineno}: {ast.unparse(node).splitlines()[0]}')
    return found


def test_no_environment_or_import_path_writes_outside_the_cli():
    writes = {
        name: w for name, path in MODULES.items() if name != 'lenet5_hls.cli' and (w := global_state_writes(path))
    }
    assert not writes, writes


def test_the_global_state_check_sees_writes(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text(
        "import os, sys\nos.environ['A'] = '1'\nos.environ.setdefault('B', '2')\nsys.path.insert(0, 'x')\n"
        "env = dict(os.environ)\nenv['C'] = '3'\n"
    )
    assert [w.split(': ', 1)[1] for w in global_state_writes(bad)] == [
        "os.environ['A'] = '1'",
        "os.environ.setdefault('B', '2')",
        "sys.path.insert(0, 'x')",
    ]

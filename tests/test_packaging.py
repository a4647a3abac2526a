"""The course installs from its own files: pyproject, environment.yml, Makefile and CI agree."""
import re
import tomllib
from pathlib import Path

import gancourse

ROOT = Path(__file__).resolve().parent.parent

CONDA_NAMES = {"torch": "pytorch", "jupyterlab-rise": "jupyterlab_rise"}  # conda-forge spells some packages differently


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement_names(reqs):
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].strip().lower(): r for r in reqs}


def _environment_deps():
    text = (ROOT / "environment.yml").read_text()
    deps, pip = {}, []
    in_deps = in_pip = False
    for line in text.splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^\s+- pip:\s*$", line):
            in_pip = True
            continue
        if in_deps and (m := re.match(r"^\s+- (.+)$", line)):
            item = m.group(1).strip()
            if in_pip and line.startswith("      "):
                pip.append(item)
            else:
                in_pip = False
                name = re.split(r"[<>=!~ ]", item, maxsplit=1)[0].lower()
                deps[name] = item
    return deps, pip


def test_environment_and_pyproject_list_the_same_dependencies():
    project = _pyproject()["project"]
    wanted = _requirement_names(project["dependencies"] + project["optional-dependencies"]["dev"])
    conda, pip = _environment_deps()
    conda.pop("python"), conda.pop("pip")
    for name, spec in wanted.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {name} (pyproject: {spec})"
        lower = re.search(r">=\s*([\d.]+)", spec)
        if lower:
            assert f">={lower.group(1)}" in conda[conda_name].replace(" ", ""), \
                f"{name}: pyproject asks {spec}, environment.yml {conda[conda_name]}"
    extra = set(conda) - {CONDA_NAMES.get(n, n) for n in wanted}
    assert not extra, f"environment.yml has packages pyproject does not declare: {extra}"
    assert "-e ." in pip, "environment.yml should install the package itself with pip (-e .)"


def test_environment_pins_python_311():
    conda, _ = _environment_deps()
    assert conda["python"] == "python=3.11"


def test_version_is_the_same_everywhere():
    assert _pyproject()["project"]["version"] == gancourse.__version__


def test_torch_is_a_range_in_pyproject_and_a_pin_in_the_makefile():
    deps = _requirement_names(_pyproject()["project"]["dependencies"])
    assert deps["torch"].replace(" ", "") == "torch>=2.2"
    makefile = (ROOT / "Makefile").read_text()
    assert "torch==2.14.1 torchvision==0.29.1" in makefile


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"


def test_notebooks_are_numbered_in_order():
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    lessons = [n for n in names if re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", n)]
    appendices = [n for n in names if re.fullmatch(r"\d\d[a-z]_[a-z0-9_]+\.ipynb", n)]
    assert sorted(lessons + appendices) == names, f"names must be NN_topic or NNa_topic (appendix): {names}"
    numbers = [int(n[:2]) for n in lessons]
    assert numbers == list(range(len(numbers))), f"notebooks should be 00, 01, ... without gaps: {lessons}"
    # an appendix follows a lesson of the same number and is linked from it
    for name in appendices:
        lesson = next((n for n in lessons if n[:2] == name[:2]), None)
        assert lesson, f"appendix {name} has no lesson {name[:2]}_*.ipynb"
        assert name[:-len(".ipynb")] in (ROOT / "notebooks" / lesson).read_text(), f"{lesson} must link to {name}"


def _module_level_imports() -> dict[str, set[str]]:
    """gancourse's modules -> the gancourse modules they import at module level (what runs on import)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "gancourse"
    files = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join(base + [node.module] if node.module else base) if node.level else node.module
                for alias in node.names:
                    deps.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def test_no_import_cycle_among_the_package_modules():
    """Recipes are a plain table that imports no model (no model registers itself), so the import graph
    of the package is acyclic: a module never needs another that needs it back."""
    graph = _module_level_imports()
    assert "gancourse.models.dcgan" in graph and "gancourse.nn.init" in graph["gancourse.models.dcgan"]
    done, active = set(), []

    def visit(module):
        active.append(module)
        for dep in sorted(graph[module]):
            assert dep not in active, "import cycle: " + " -> ".join(active[active.index(dep):] + [dep])
            if dep not in done:
                visit(dep)
        active.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module)
    # the recipe table names the model files; it never imports one
    assert not [m for m in graph["gancourse.recipes"] if m.startswith(("gancourse.models", "gancourse.judges.digits"))]

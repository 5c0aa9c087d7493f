"""The package's shape: layers import only downward, no import cycles, no zoo import hidden inside a function,
no private TensorFlow or Keras API, and the families' declared capabilities match their methods."""

import ast
from pathlib import Path

import pytest

import zoo
from zoo.models import families

PACKAGE = Path(zoo.__file__).parent

# Bottom to top; a module may import its own layer (without a cycle) and the layers below it.
LAYERS = [
    {"zoo.errors", "zoo.version", "zoo.schema", "zoo.catalogue", "zoo.files", "zoo.progress"},
    {"zoo.images", "zoo.runtime"},
    {"zoo.nets", "zoo.diffusion"},
    {"zoo.models"},
    {"zoo.config"},
    {"zoo.data"},
    {"zoo.artifact"},
    {"zoo.eval", "zoo.train"},
    {"zoo.app"},
    {"zoo.cli", "zoo.__main__"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path):
    """(imported zoo module, at module level?) for every zoo import of a module."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from zoo import data` imports the module zoo.data; `from zoo.data import load_split` the module zoo.data
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            if target == "zoo" or target.startswith("zoo."):
                yield target, id(node) in top_level


def _layer(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in layer):
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py: add it where it belongs")


GRAPH = {name: sorted({target for target, _ in _imports(name, path)}) for name, path in MODULES.items()}


def test_every_module_sits_in_a_layer_and_imports_only_downward():
    upward = [f"{module} -> {target}" for module, targets in GRAPH.items() if module != "zoo"
              for target in targets if target != "zoo" and _layer(target) > _layer(module)]
    assert not upward, upward


def test_no_zoo_import_inside_a_function():
    hidden = [f"{name} -> {target}" for name, path in MODULES.items() for target, top in _imports(name, path)
              if not top]
    assert not hidden, hidden


def test_there_is_no_import_cycle():
    state, cycles = {}, []

    def visit(module, stack):
        state[module] = "open"
        for target in GRAPH.get(module, []):
            if target == "zoo" or target not in GRAPH:
                continue
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in GRAPH:
        if module not in state and module != "zoo":
            visit(module, [module])
    assert not cycles, cycles


def test_only_public_tensorflow_and_keras_apis():
    private = [f"{name}: {line.strip()}" for name, path in MODULES.items() for line in path.read_text().splitlines()
               if any(marker in line for marker in ("tensorflow.python", "keras.src", "_default_save_signature",
                                                     "tensorflow.core"))]
    assert not private, private


@pytest.mark.parametrize("family", sorted(families()))
def test_a_family_declares_what_its_methods_provide(family):
    cls = families()[family]
    missing = [c.value for c in cls.capabilities if not hasattr(cls, c.method)]
    assert not missing, f"{family} declares {missing} without their methods"
    assert cls.evaluation() == {"cyclegan": "translation", "classifier": "classification", "dbvae": "classification",
                                "autoencoder": "reconstruction"}.get(family, "samples")
    # What a user can ask of each family; changing a family's declaration means changing this table.
    expected = {
        "autoencoder": {"encode", "decode", "reconstruct"},
        "vae": {"sample", "encode", "decode", "reconstruct", "likelihood", "interpolate", "traverse"},
        "cvae": {"sample", "encode", "decode", "reconstruct", "likelihood", "interpolate", "traverse", "conditional"},
        "dcgan": {"sample", "generate"}, "wgan_gp": {"sample", "generate"},
        "cgan": {"sample", "generate", "conditional"},
        "cyclegan": {"translate"},
        "ddpm": {"sample", "generate", "samplers"},
        "guided_ddpm": {"sample", "generate", "samplers", "conditional", "guidance"},
        "classifier": {"classify"},
        "dbvae": {"classify", "encode", "reconstruct"},
    }
    assert {c.value for c in cls.capabilities} == expected[family]

"""Plugins travel with a remote job: each one's identity (distribution, version, a hash of its
files), a copy of a plugin that does not come with gp in the job's folder, and the check on
the cluster that the plugin there is the submitter's."""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import pathlib
import re
import shutil

from gp.errors import GpError



def _entry_points(name: str) -> list:
    return [ep for ep in md.entry_points(group="gp") if ep.name == name]


def _module_root(module: str) -> pathlib.Path:
    """The package folder or file of ``module``'s top-level module."""
    spec = importlib.util.find_spec(module.split(".")[0])
    if spec is None:
        raise GpError(f"plugin module {module} is not importable here")
    if spec.submodule_search_locations:
        return pathlib.Path(list(spec.submodule_search_locations)[0])
    return pathlib.Path(spec.origin)


def _files(root: pathlib.Path) -> list[pathlib.Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def tree_hash(root: pathlib.Path) -> str:
    """SHA-256 over the relative names and contents of a module's files."""
    h = hashlib.sha256()
    for path in _files(root):
        h.update(path.relative_to(root.parent).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def plugin_identity(origin) -> dict:
    """Distribution, version, module root and hash of the entry point ``origin.plugin``."""
    eps = _entry_points(origin.plugin)
    if not eps:
        return {"dist": origin.dist, "version": origin.version, "hash": "unknown", "root": None}
    root = _module_root(eps[0].module)
    return {"dist": origin.dist, "version": origin.version, "hash": tree_hash(root), "root": str(root),
            "entry_point": origin.plugin}


def ship(identity: dict, into: pathlib.Path) -> bool:
    """Copy a plugin that does not come with gp into the job's folder; True if shipped.

    The copy gets a minimal ``.dist-info`` with its ``gp`` entry points, so the cluster
    discovers it like an installed distribution (the job's folder is first on sys.path).
    """
    if identity["dist"] in ("gp", "unknown") or not identity["root"]:
        return False
    root = pathlib.Path(identity["root"])
    copy = shutil.copytree if root.is_dir() else shutil.copy2
    copy(root, into / root.name, **({"ignore": shutil.ignore_patterns("__pycache__")} if root.is_dir() else {}))
    top = root.name.removesuffix(".py")
    eps = [ep for ep in md.distribution(identity["dist"]).entry_points
           if ep.group == "gp" and ep.module.split(".")[0] == top]
    info = into / f"{re.sub(r'[-_.]+', '_', identity['dist'])}-{identity['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {identity['dist']}\nVersion: {identity['version']}\n")
    (info / "entry_points.txt").write_text("[gp]\n" + "".join(f"{ep.name} = {ep.value}\n" for ep in eps))
    return True


def check_plugin(expected: dict, origin) -> None:
    """Refuse to train a plugin whose files differ from the submitter's."""
    here = plugin_identity(origin)
    if expected.get("hash") not in (None, "unknown") and here["hash"] != expected["hash"]:
        raise GpError(f"plugin {origin.plugin} here ({here['dist']} {here['version']}, hash {here['hash'][:12]}) "
                      f"differs from the submitter's ({expected['dist']} {expected['version']}, hash "
                      f"{expected['hash'][:12]}); install the same version on every node")

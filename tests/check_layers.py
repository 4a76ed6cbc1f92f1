#!/usr/bin/env python3
"""The layer rule (README "Layers"): a file of one layer includes headers of
its own layer and of the layers below it, never above. LAYERS is the order,
lowest first, written only here; meson.build links one library per layer in
the same order. A header belongs to the folder whose .cpp has its name
(include/procd/spawn.hpp -> src/sys/spawn.cpp -> sys), else to OWNERS; a
header under src/X belongs to X. The core also stays pure: no libuv, no
spdlog. meson.build's procd_layers must list the same order. Run by `meson test check_layers`; exits 1 listing every violation.

  python3 tests/check_layers.py [SOURCE_ROOT]
"""
import re
import sys
from pathlib import Path

LAYERS = ["core", "uv", "sys", "config", "log", "control", "daemon", "tui", "cli"]

# Headers without a same-named .cpp: the lowest layer that needs them.
OWNERS = {
    "error.hpp": "core",          # src/core/errors.cpp
    "config.hpp": "core",         # the plain config model; src/core/config_model.cpp
    "proc_stat.hpp": "core",      # plain /proc/PID/stat fields (header only)
    "histogram.hpp": "core",      # plain data (header only)
    "resource_history.hpp": "core",  # plain data (header only)
    "uv_handle.hpp": "uv",
    "cli.hpp": "cli",
    "front_ends.hpp": "daemon",        # src/daemon/supervisor_control.cpp, supervisor_http.cpp
    "manager_notifier.hpp": "daemon",  # src/daemon/manager_notify.cpp
}

# System headers a layer must not include.
FORBIDDEN = {"core": re.compile(r"^(uv\.h|spdlog/)")}

INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^">]+)[">]')


def header_owners(root):
    owners = {}
    cpp_folder = {p.stem: p.parent.name for p in (root / "src").glob("*/*.cpp")}
    problems = []
    for h in sorted((root / "include" / "procd").glob("*.hpp")):
        owner = OWNERS.get(h.name) or cpp_folder.get(h.stem)
        if owner is None:
            problems.append(f"include/procd/{h.name}: no layer (no src/*/{h.stem}.cpp): add it to OWNERS in tests/check_layers.py")
        owners[f"procd/{h.name}"] = owner
    return owners, problems


def check(root):
    owners, problems = header_owners(root)
    rank = {name: i for i, name in enumerate(LAYERS)}
    files = [(p, p.parent.name) for p in sorted((root / "src").glob("*/*.[ch]pp"))]
    files += [(p, owners[f"procd/{p.name}"]) for p in sorted((root / "include" / "procd").glob("*.hpp"))]
    for path, layer in files:
        if layer is None:
            continue
        if layer not in rank:
            problems.append(f"{path.relative_to(root)}: folder {layer} is not in LAYERS")
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            where = f"{path.relative_to(root)}:{lineno}"
            if kind == "<":
                if layer in FORBIDDEN and FORBIDDEN[layer].match(name):
                    problems.append(f"{where}: {layer} includes <{name}>: the core stays pure")
                continue
            target = owners.get(name)
            if name.startswith("src/") and name.count("/") == 2:
                target = name.split("/")[1]  # "src/X/foo.hpp": X's own header
            elif target is None and "/" not in name:
                target = path.parent.name if path.parent.parent.name == "src" else None
            if target is None:
                continue
            if rank[target] > rank[layer]:
                problems.append(f"{where}: {layer} includes \"{name}\" of {target}, a higher layer "
                                f"(order: {' < '.join(LAYERS)})")
    return problems


def check_meson_order(root):
    # meson.build links the libraries in its own list: it must be LAYERS.
    text = (root / "meson.build").read_text(encoding="utf-8")
    block = re.search(r"^procd_layers = \[(.*?)^\]", text, re.S | re.M)
    order = re.findall(r"^\s*\['(\w+)'", block.group(1), re.M) if block else []
    if order != LAYERS:
        return [f"meson.build: procd_layers is {order}, not LAYERS {LAYERS}"]
    return []


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    problems = check(root) + check_meson_order(root)
    for p in problems:
        print(p)
    print(f"check_layers: {len(problems)} violation(s); order {' < '.join(LAYERS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

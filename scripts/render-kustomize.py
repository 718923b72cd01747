#!/usr/bin/env python3
"""render-kustomize.py OVERLAY OUT_DIR [COMPONENT...]: renders a kustomize overlay of deploy/kubernetes as
`kubectl kustomize` would for the features the kit uses (resources, components, common labels,
inline JSON 6902 patches with a kind/name target) and writes each object to OUT_DIR, so that CI
can validate what an overlay produces without kubectl. A path that does not exist, a feature
it does not know or a patch that does not apply fails it."""

import os
import sys

import yaml

KNOWN = {"apiVersion", "kind", "resources", "components", "patches", "labels"}


def pointer(path):
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def apply(doc, op):
    *parents, last = pointer(op["path"])
    at = doc
    for key in parents:
        at = at[int(key)] if isinstance(at, list) else at[key]
    if op["op"] == "replace":
        if isinstance(at, list):
            at[int(last)] = op["value"]
        else:
            if last not in at:
                raise SystemExit(f"replace of missing {op['path']}")
            at[last] = op["value"]
    elif op["op"] == "add":
        if isinstance(at, list):
            at.append(op["value"]) if last == "-" else at.insert(int(last), op["value"])
        else:
            at[last] = op["value"]
    else:
        raise SystemExit(f"unknown patch op {op['op']}")


def load(directory):
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN
    if unknown:
        raise SystemExit(f"{directory}: kustomize features this check does not know: {unknown}")
    return k


def patch(directory, k, objects):
    for patch in k.get("patches", []):
        target = patch["target"]
        matched = [
            o for o in objects
            if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]
        ]
        if not matched:
            raise SystemExit(f"{directory}: no {target['kind']} {target['name']} to patch")
        for o in matched:
            for op in yaml.safe_load(patch["patch"]):
                apply(o, op)
    for label in k.get("labels", []):
        for o in objects:
            o["metadata"].setdefault("labels", {}).update(label["pairs"])


def render(directory, extra_components=()):
    k = load(directory)
    objects = []
    for entry in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(path):
            objects += render(path)
        elif os.path.isfile(path):
            with open(path) as f:
                objects += [d for d in yaml.safe_load_all(f) if d]
        else:
            raise SystemExit(f"{directory}: {entry} does not exist")
    components = [os.path.join(directory, c) for c in k.get("components", [])]
    for component in components + list(extra_components):
        component = os.path.normpath(component)
        if not os.path.isdir(component):
            raise SystemExit(f"{directory}: component {component} does not exist")
        patch(component, load(component), objects)
    patch(directory, k, objects)
    return objects


def main():
    overlay, out, components = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    for i, o in enumerate(render(overlay, components)):
        name = f"{i:02d}-{o['kind']}-{o['metadata']['name']}.yaml".lower()
        with open(os.path.join(out, name), "w") as f:
            yaml.safe_dump(o, f, sort_keys=False)
        print(os.path.join(out, name))


if __name__ == "__main__":
    main()

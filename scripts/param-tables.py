#!/usr/bin/env python3
"""Prints the README's parameter tables from pipelines/*.toml (the test readme_documents_every_parameter
checks that the README keeps up)."""
import pathlib
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
for path in sorted((root / "pipelines").glob("*.toml")):
    spec = tomllib.loads(path.read_text())
    routes = spec["routes"]
    suffixes = ""
    if "suffix" in spec:
        values = spec["params"][spec["suffix"]]["values"]
        words = list(values) if isinstance(values, dict) else values
        suffixes = "; " + ", ".join(f"`{routes[0]}.{w}`" for w in words)
    also = ", ".join(f"`{r}`" for r in routes[1:])
    print(f"#### `{routes[0]}`" + (f" (also {also}{suffixes})" if also or suffixes else "").replace("(also ; ", "(also "))
    print()
    print(spec.get("summary", ""))
    print()
    print("| Parameter | Type | Default | Allowed | What |")
    print("| --- | --- | --- | --- | --- |")
    for name, p in spec.get("params", {}).items():
        kind = p["type"]
        default = "required" if p.get("required") else (f"`{p['default']}`" if "default" in p else "none")
        if kind == "seconds":
            allowed = f"{p.get('min', 0)} to {p.get('max', 86400)} s (`12.5`, `1:02.5`, `01:02:03`)"
        elif kind in ("int", "float"):
            allowed = f"{p.get('min', 0)} to {p.get('max', 86400)}"
        elif kind == "enum":
            values = p["values"]
            allowed = ", ".join(f"`{w}`" for w in (values if isinstance(values, list) else values.keys()))
        elif kind == "bool":
            allowed = "`true`, `false`"
        elif kind == "url":
            allowed = "http(s) URL"
        else:
            allowed = ""
        print(f"| `{name}` | {kind} | {default} | {allowed} | {p.get('doc', '')} |")
    print()

#!/usr/bin/env python3
"""Validate rendered Kubernetes objects against the official schemas.

    validate.py [--schemas DIR] [--label NAME] FILE...

Each FILE (or "-" for standard input) holds a JSON array of objects, as
`render_cli` prints it.  Every object is checked against the Kubernetes
1.29 standalone-strict JSON schema of its kind, which rejects unknown
fields.  One line per object; the last line is "N passed, N failed".  The
exit status is 0 only when every object passed, 77 when the validator
cannot run here (no jsonschema module), 1 when the schemas are missing.
"""

import argparse
import json
import os
import sys

SKIP = 77


def default_schema_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    tests = os.path.dirname(here)
    return os.environ.get(
        "ESAAS_K8S_SCHEMA_DIR",
        os.path.join(tests, "reference", "k8s-schema", "v1.29.0-standalone-strict"))


def schema_file(api_version, kind):
    """statefulset-apps-v1.json for apps/v1, namespace-v1.json for v1."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return "%s-%s-%s.json" % (kind.lower(), group.split(".")[0], version)
    return "%s-%s.json" % (kind.lower(), api_version)


def where(error):
    path = "/".join(str(p) for p in error.absolute_path)
    return path or "(root)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", default=default_schema_dir())
    parser.add_argument("--label", default="", help="prefix of every line")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    try:
        import jsonschema
    except ImportError:
        print("skip: the python module jsonschema is not installed for %s"
              % sys.executable, file=sys.stderr)
        return SKIP
    if not os.path.isdir(args.schemas):
        print("error: no schemas in %s" % args.schemas, file=sys.stderr)
        return 1

    validators = {}
    passed = failed = 0
    prefix = args.label + ": " if args.label else ""

    for name in args.files:
        try:
            if name == "-":
                objects = json.load(sys.stdin)
            else:
                with open(name, encoding="utf-8") as f:
                    objects = json.load(f)
        except (OSError, ValueError) as e:
            print("%sFAIL %s: %s" % (prefix, name, e))
            failed += 1
            continue
        if not isinstance(objects, list):
            print("%sFAIL %s: not a JSON array of objects" % (prefix, name))
            failed += 1
            continue
        for obj in objects:
            kind = obj.get("kind", "?") if isinstance(obj, dict) else "?"
            api = obj.get("apiVersion", "?") if isinstance(obj, dict) else "?"
            meta = obj.get("metadata", {}) if isinstance(obj, dict) else {}
            what = "%s %s/%s" % (kind, meta.get("namespace", ""), meta.get("name", "?"))
            path = os.path.join(args.schemas, schema_file(api, kind))
            if path not in validators:
                try:
                    with open(path, encoding="utf-8") as f:
                        schema = json.load(f)
                except (OSError, ValueError) as e:
                    print("%sFAIL %s: no schema for %s %s: %s" % (prefix, what, api, kind, e))
                    failed += 1
                    continue
                # The schemas' $schema URI names no known draft: pick it.
                validators[path] = jsonschema.Draft4Validator(schema)
            errors = sorted(validators[path].iter_errors(obj), key=lambda e: list(e.absolute_path))
            if errors:
                failed += 1
                print("%sFAIL %s" % (prefix, what))
                for e in errors[:10]:
                    print("    at %s: %s" % (where(e), e.message[:300]))
            else:
                passed += 1
                print("%sok   %s" % (prefix, what))

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Validate rendered Kubernetes objects against the official schemas.

    validate.py [--schemas DIR] [--label NAME] FILE...

Each FILE (or "-" for standard input) holds a JSON array of objects, as
`render_cli` prints it.  Every object is checked against the Kubernetes
1.29 standalone-strict JSON schema of its kind, which rejects unknown
fields.  Kinds without such a schema (PersistentVolume,
PersistentVolumeClaim) are validated against the official OpenAPI v3
document of their API group in ../openapi-v3/1.29/, made strict the same
way, as tests/deploy/check.py does (its code is reused); StorageClass,
whose group (storage.k8s.io) has no document there, gets the shape check
below, and is reported as "no schema; shape checked".  One line per
object; the last line is "N passed, N failed".  The
exit status is 0 only when every object passed, 77 when the validator
cannot run here (no jsonschema module), 1 when the schemas are missing.
"""

import argparse
import importlib.util
import json
import os
import re
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


def deploy_check():
    """tests/deploy/check.py as a module: its OpenAPI v3 fallback."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(os.path.dirname(here), "deploy", "check.py")
    spec = importlib.util.spec_from_file_location("esaas_deploy_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shape_storage_class(obj):
    """storage.k8s.io/v1 StorageClass, strictly: the fields of its 1.29 API
    type (k8s.io/api/storage/v1 types.go), their types and enumerations."""
    errors = []
    allowed = {"apiVersion", "kind", "metadata", "provisioner", "parameters", "reclaimPolicy",
               "mountOptions", "allowVolumeExpansion", "volumeBindingMode", "allowedTopologies"}
    extra = set(obj) - allowed
    if extra:
        errors.append("unexpected fields %s" % sorted(extra))
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        errors.append("metadata: missing")
    else:
        if set(meta) - {"name", "labels", "annotations"}:
            errors.append("metadata: unexpected %s (cluster-scoped)"
                          % sorted(set(meta) - {"name", "labels", "annotations"}))
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", str(meta.get("name", ""))) or \
                len(meta.get("name", "")) > 253:
            errors.append("metadata.name: not a DNS subdomain")
        for field in ("labels", "annotations"):
            m = meta.get(field, {})
            if not isinstance(m, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in m.items()):
                errors.append("metadata.%s: not a map of strings" % field)
    if not isinstance(obj.get("provisioner"), str) or not obj.get("provisioner"):
        errors.append("provisioner: required, a string")
    if "parameters" in obj and not (isinstance(obj["parameters"], dict) and all(
            isinstance(v, str) for v in obj["parameters"].values())):
        errors.append("parameters: not a map of strings")
    if obj.get("reclaimPolicy", "Delete") not in ("Delete", "Retain"):
        errors.append("reclaimPolicy: %r, not Delete or Retain" % obj.get("reclaimPolicy"))
    if obj.get("volumeBindingMode", "Immediate") not in ("Immediate", "WaitForFirstConsumer"):
        errors.append("volumeBindingMode: %r, not Immediate or WaitForFirstConsumer"
                      % obj.get("volumeBindingMode"))
    if "allowVolumeExpansion" in obj and not isinstance(obj["allowVolumeExpansion"], bool):
        errors.append("allowVolumeExpansion: not a boolean")
    if "mountOptions" in obj and not (isinstance(obj["mountOptions"], list) and all(
            isinstance(v, str) for v in obj["mountOptions"])):
        errors.append("mountOptions: not a list of strings")
    return errors


SHAPES = {("storage.k8s.io/v1", "StorageClass"): shape_storage_class}


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
    openapi = None
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
            if (api, kind) in SHAPES and not os.path.isfile(path):
                errors = SHAPES[(api, kind)](obj)
                if errors:
                    failed += 1
                    print("%sFAIL %s: no schema; shape checked" % (prefix, what))
                    for e in errors:
                        print("    %s" % e)
                else:
                    passed += 1
                    print("%sok   %s (no schema; shape checked)" % (prefix, what))
                continue
            if path not in validators and not os.path.isfile(path):
                if openapi is None:
                    # The reference folder holding k8s-schema/ above the schemas.
                    reference = os.path.dirname(os.path.dirname(os.path.abspath(args.schemas)))
                    openapi = deploy_check().Schemas(jsonschema, reference)
                    openapi.openapi_dir = os.path.join(
                        os.path.dirname(os.path.abspath(args.schemas)), "openapi-v3", "1.29")
                validator, _ = openapi.openapi_validator(api, kind)
                if validator is not None:
                    validators[path] = validator
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

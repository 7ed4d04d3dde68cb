#!/usr/bin/env python3
"""Checks request files against mParticle's published Events API JSON schema.

usage: scripts/check-batches.py [--schema PATH] FILE...

Each FILE is what the file destination writes: one JSON array of batches per line, exactly as it
would be POSTed. Every batch is validated with Python's jsonschema (draft-07, the schema's own
draft). A batch that does not validate is printed as

    FILE:LINE: batch N: MESSAGE (at PATH)

with the validator's most relevant message, and the exit status is 1. Exit status 0: every batch
validates. Exit status 2: a usage problem, an unreadable file, or jsonschema is not installed
(scripts/test.sh installs it).
"""
import json
import os
import sys

DEFAULT_SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures",
                              "mparticle-eventsapi.schema.json")
# Enough to see what is wrong without flooding the output when every batch fails the same way.
MAX_REPORTED = 20


def main(argv):
    args = argv[1:]
    schema_path = DEFAULT_SCHEMA
    if len(args) >= 2 and args[0] == "--schema":
        schema_path, args = args[1], args[2:]
    if not args or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        from jsonschema import Draft7Validator
        from jsonschema.exceptions import best_match
    except ImportError:
        print("check-batches: Python's jsonschema is not installed; run scripts/test.sh, "
              "or 'pip install jsonschema' (Debian/Ubuntu: 'apt-get install python3-jsonschema')", file=sys.stderr)
        return 2
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        Draft7Validator.check_schema(schema)
    except (OSError, ValueError) as error:
        print(f"check-batches: cannot use the schema {schema_path}: {error}", file=sys.stderr)
        return 2
    validator = Draft7Validator(schema)

    batches = failed = 0
    for path in args:
        try:
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    try:
                        request = json.loads(line)
                    except ValueError as error:
                        print(f"{path}:{number}: not JSON: {error}")
                        failed += 1
                        continue
                    if not isinstance(request, list):
                        print(f"{path}:{number}: a request must be a JSON array of batches")
                        failed += 1
                        continue
                    for index, batch in enumerate(request):
                        batches += 1
                        error = best_match(validator.iter_errors(batch))
                        if error is None:
                            continue
                        failed += 1
                        if failed <= MAX_REPORTED:
                            where = "/".join(str(part) for part in error.absolute_path) or "the batch"
                            print(f"{path}:{number}: batch {index + 1}: {error.message} (at {where})")
        except OSError as error:
            print(f"check-batches: cannot read {path}: {error}", file=sys.stderr)
            return 2
    if failed > MAX_REPORTED:
        print(f"... and {failed - MAX_REPORTED} more")
    if failed:
        print(f"{failed} of {batches} batches do not validate against {os.path.basename(schema_path)}")
        return 1
    print(f"{batches} batches validate against {os.path.basename(schema_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Run the Rasa CLI with jsonschema's `validate()` memoised per schema.

Profiling the Rasa server under load (py-spy, 4 concurrent senders) showed ~38 % of its CPU inside jsonschema:
`jsonschema.validate()` re-checks the *schema* against its metaschema on every call, and Rasa calls it for every
action-server response (and other payloads) with schemas that never change. Checking each distinct schema once and
reusing its validator gives identical results (the same errors are raised) for a fraction of the work.

Usage (what api/stack.py runs): .venv-rasa/bin/python bot/launch_rasa.py run --enable-api …
"""

import json
import os
import sys
import threading

# Python put bot/ (this file's folder) first on sys.path; its data/, models/, jieba/ folders must not shadow modules.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import jsonschema  # noqa: E402
from jsonschema import exceptions, validators  # noqa: E402

_original_validate = jsonschema.validate
_cache: dict = {}
_lock = threading.Lock()


def _memoised_validate(instance, schema, cls=None, *args, **kwargs):
    if args or kwargs:
        return _original_validate(instance, schema, cls, *args, **kwargs)
    try:
        key = (json.dumps(schema, sort_keys=True), cls)
    except (TypeError, ValueError):  # a schema JSON cannot express: keep the library's own path
        return _original_validate(instance, schema, cls)
    validator = _cache.get(key)
    if validator is None:
        klass = cls or validators.validator_for(schema)
        klass.check_schema(schema)
        validator = klass(schema)
        with _lock:
            _cache[key] = validator
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


jsonschema.validate = _memoised_validate

if __name__ == "__main__":
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())

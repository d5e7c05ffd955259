"""Run the Rasa CLI with two constant computations memoised and, when serving, models loaded without their training
graph and without JAX.

Profiling the Rasa server under load (py-spy) found CPU spent recomputing things that never change while it runs:
- ~38 % (4 concurrent senders) inside jsonschema: `jsonschema.validate()` re-checks the *schema* against its
  metaschema on every call, and Rasa calls it for every action-server response (and other payloads) with schemas
  that never change. Checking each distinct schema once and reusing its validator gives identical results (the same
  errors are raised) for a fraction of the work.
- ~17 % (20 concurrent senders) in `Event.resolve_by_type`: every event read back from the Redis tracker store
  walks all `Event` subclasses (with `inspect.isabstract` on each) to find the class for its type name — twice per
  turn per event, since saving re-reads the stored tracker. The name → class mapping is fixed once Rasa is
  imported, so a found class is remembered; unknown names still take the original path (and its error).

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


def _memoise_event_types() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict = {}

    def resolve_by_type(type_name, default=None):
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _load_models_without_training_graph() -> None:
    """Rasa builds each TensorFlow model at load time by fitting it one step, then overwrites the weights from the
    model file. In graph mode that step traces the whole training graph (gradients, optimizer), which then stays in
    memory: ~500 MB of each server's 1.5 GB. Run that one step eagerly instead and trace only the prediction graph,
    as before. Same weights, same predictions (intents, confidences and entities compared), ~1.0 GB per server."""
    from rasa.utils.tensorflow.models import RasaModel

    compile_, load_weights = RasaModel.compile, RasaModel.load_weights

    def compile_eagerly(self, *args, **kwargs):
        kwargs["run_eagerly"] = True
        return compile_(self, *args, **kwargs)

    def load_weights_then_trace(self, *args, **kwargs):
        result = load_weights(self, *args, **kwargs)
        self.run_eagerly = False  # predictions run as a traced tf.function again
        return result

    RasaModel.compile = compile_eagerly
    RasaModel.load_weights = load_weights_then_trace


def _json_logs_with_request_id() -> None:
    """Rasa's lines as the rest of the stack writes them (api/json_logs.py: one JSON object per line, personal
    data masked), each with the request id the API sent as ``X-Request-ID`` (issue 16). Rasa configures its own
    coloured handler when the CLI starts; the app is created after that, so this replaces it there."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root: api/, knowledge/
    import logging

    from rasa import server

    from api.json_logs import configure_logging, request_id_var

    create_app = server.create_app

    def create_app_with_json_logs(*args, **kwargs):
        app = create_app(*args, **kwargs)
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        configure_logging(logging.getLevelName(root.level) if root.level else "INFO")

        @app.middleware("request")
        async def bind_request_id(request):
            request_id_var.set(request.headers.get("x-request-id"))

        return app

    server.create_app = create_app_with_json_logs


if __name__ == "__main__":
    serving = len(sys.argv) > 1 and sys.argv[1] == "run"  # training keeps Rasa's own path
    if serving:
        # TensorFlow imports JAX when it is installed (it is a dependency) but treats it as optional (ImportError is
        # caught); Rasa never uses it. Not importing it saves ~105 MB per server.
        sys.modules["jax"] = None
    _memoise_event_types()
    if serving:
        _load_models_without_training_graph()
        _json_logs_with_request_id()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())

"""Container health probe for images without curl.

    python healthcheck.py URL [--expect KEY=VALUE]

GETs URL (``${VAR}`` references are expanded from the container environment, so tokens stay out of
compose files, Dockerfiles and pod specs) and exits 0 when the answer is HTTP 2xx and, with
``--expect``, a JSON object whose KEY equals VALUE. Anything else exits 1 with a one-line reason.
Standard library only: it runs in the API (3.11), Rasa and action-server (3.10) images alike.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    url = os.path.expandvars(argv[0])
    expect = None
    if len(argv) == 3 and argv[1] == "--expect" and "=" in argv[2]:
        expect = argv[2].split("=", 1)
    elif len(argv) != 1:
        print("usage: healthcheck.py URL [--expect KEY=VALUE]", file=sys.stderr)
        return 2
    shown = argv[0]  # the unexpanded form: never print a token
    try:
        with urllib.request.urlopen(url, timeout=float(os.environ.get("HEALTHCHECK_TIMEOUT", "4"))) as r:
            body = r.read(65536)
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {shown} -> HTTP {exc.code}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {shown} -> {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if expect:
        key, value = expect
        try:
            got = json.loads(body).get(key)
        except (ValueError, AttributeError):
            got = None
        if str(got) != value:
            print(f"unhealthy: {shown} -> {key}={got!r}, want {value!r}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""One request id follows a resident's turn through the real stack (issue 16): the API's access line for the
turn, Rasa (message metadata), the action server's JSON log line for the action it ran, and the API's line for
the /v1/answer call that action made — and the reply names the index version its answer was composed from."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path


def lines_with(log: Path, request_id: str) -> list[dict]:
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if request_id in line:
            found.append(json.loads(line))  # every line that names it is one JSON object
    return found


def send_turn(api, message: str):
    """One turn in a new session with a fresh request id: (the id, the response)."""
    request_id = f"e2e-{uuid.uuid4().hex[:12]}"
    r = api.post(
        "/v1/chat",
        json={"session_id": f"e2e-rid-{uuid.uuid4().hex[:8]}", "message": message},
        headers={"X-Request-ID": request_id},
    )
    assert r.status_code == 200, r.text
    return request_id, r


def test_a_turns_request_id_reaches_rasa_the_action_server_and_the_answer_call(api, stack, stack_settings):
    request_id, r = send_turn(api, "孕前优生健康检查免费吗")
    assert r.headers["x-request-id"] == request_id
    answers = [m for m in r.json()["messages"] if m["kind"] == "answer"]
    assert answers and answers[0]["index_version"] == api.get("/healthz").json()["index_version"]

    logs = stack.log_dir
    deadline = time.monotonic() + 10  # the processes flush their lines as they write them; allow a moment
    while True:
        api_lines, action_lines = (
            lines_with(logs / "api.log", request_id),
            lines_with(logs / "actions.log", request_id),
        )
        routes = {line.get("route") for line in api_lines if line["logger"] == "minsheng.access"}
        actions = {line.get("action") for line in action_lines if line["logger"] == "minsheng.actions.access"}
        if (
            {"/v1/chat", "/v1/answer"} <= routes and "action_answer" in actions
        ) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"/v1/chat", "/v1/answer"} <= routes, api_lines
    assert "action_answer" in actions, action_lines
    assert all(line["request_id"] == request_id for line in api_lines + action_lines)


def test_rasa_writes_json_lines_with_the_turns_request_id(api, stack):
    request_id, _ = send_turn(api, "你好")
    logs = sorted(stack.log_dir.glob("rasa-*.log"))
    assert logs
    # Rasa's own lines once serving (bot/launch_rasa.py): JSON objects, from Rasa's loggers
    served = [
        json.loads(line)
        for log in logs
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("{")
    ]
    assert any(line["logger"].startswith(("rasa", "sanic")) for line in served), served[-5:]
    assert all(line.get("request_id") == request_id for line in served if request_id in json.dumps(line))

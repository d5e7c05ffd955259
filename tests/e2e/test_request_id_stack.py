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


def test_a_turns_request_id_reaches_rasa_the_action_server_and_the_answer_call(api, stack, stack_settings):
    request_id = f"e2e-{uuid.uuid4().hex[:12]}"
    r = api.post(
        "/v1/chat",
        json={"session_id": f"e2e-rid-{uuid.uuid4().hex[:8]}", "message": "孕前优生健康检查免费吗"},
        headers={"X-Request-ID": request_id},
    )
    assert r.status_code == 200, r.text
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

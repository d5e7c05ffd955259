"""What the action server tells a resident when the API did not answer (actions/messages.py)."""

import pytest

from actions.messages import api_failure


@pytest.mark.parametrize("status", [None, 500, 502, 503, 429])
def test_an_outage_is_reported_as_one_with_a_way_to_a_human(status):
    reply = api_failure(status)
    assert reply["kind"] == "refuse" and "暂时无法访问" in reply["text"]
    assert reply["buttons"] == [{"title": "转人工", "payload": "/human_handoff"}] and reply["citations"] == []


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_refused_message_is_never_reported_as_an_outage(status):
    reply = api_failure(status)
    assert "暂时无法访问" not in reply["text"] and "换个简短的说法" in reply["text"]
    assert reply["buttons"] == [{"title": "转人工", "payload": "/human_handoff"}]

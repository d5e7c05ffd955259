from api.chat_messages import merge_rasa_output


def test_custom_payloads_become_messages_and_text_entries_are_joined():
    out = merge_rasa_output(
        [
            {
                "recipient_id": "s",
                "custom": {
                    "kind": "answer",
                    "text": "答",
                    "citations": [],
                    "buttons": [{"title": "转人工", "payload": "/human_handoff"}],
                },
            },
            {"recipient_id": "s", "text": "请问您今年多少岁？"},
            {"recipient_id": "s", "custom": {"kind": "form"}},
            {"recipient_id": "s", "text": "您好", "buttons": [{"title": "广西", "payload": "广西"}]},
        ]
    )
    assert [m.kind for m in out] == ["answer", "form", "smalltalk"]
    assert out[0].buttons[0].payload == "/human_handoff"
    assert out[2].buttons[0].title == "广西"
    assert len({m.id for m in out}) == 3

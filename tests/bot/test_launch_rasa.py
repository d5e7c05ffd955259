"""bot/launch_rasa.py changes how the served model is loaded (no training graph, no JAX, memoised lookups); it must
predict exactly what Rasa's own loading path predicts: intents, confidences, entities and the next action."""

import json
import os
import subprocess

from api.stack import BOT_DIR, RASA_ENV, RASA_VENV, ensure_model

MESSAGES = [
    "我老婆刚怀孕，能免费做哪些检查",
    "宁夏",
    "你好",
    "谢谢你",
    "转人工",
    "我今年35岁",
    "今天天气怎么样",
    "银川的公租房谁能申请",
]

PROBE = """
import asyncio, json, sys
if sys.argv[2] == "launcher":
    import launch_rasa
    sys.modules["jax"] = None
    launch_rasa._memoise_event_types()
    launch_rasa._load_models_without_training_graph()
from rasa.core.agent import load_agent
from rasa.core.channels.channel import UserMessage

async def main():
    agent = await load_agent(model_path=sys.argv[1])
    out = []
    for i, text in enumerate(json.loads(sys.argv[3])):
        parsed = await agent.parse_message(text)
        tracker = await agent.log_message(UserMessage(text, sender_id=f"probe-{i}"))
        nxt = agent.predict_next_with_tracker(tracker)
        best = max(nxt["scores"], key=lambda s: s["score"])
        out.append({
            "intent": parsed["intent"]["name"], "confidence": parsed["intent"]["confidence"],
            "entities": [(e["entity"], e["value"]) for e in parsed["entities"]],
            "action": best["action"], "action_score": best["score"], "policy": nxt["policy"],
            "jax": "jax" in sys.modules and sys.modules["jax"] is not None,
        })
    print("PROBE" + json.dumps(out, ensure_ascii=False))

asyncio.run(main())
"""


def _probe(model: str, mode: str) -> list[dict]:
    result = subprocess.run(
        [str(RASA_VENV / "bin" / "python"), "-c", PROBE, model, mode, json.dumps(MESSAGES, ensure_ascii=False)],
        cwd=BOT_DIR, env={**os.environ, **RASA_ENV}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    line = next((x for x in result.stdout.splitlines() if x.startswith("PROBE")), None)
    assert line, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(line[len("PROBE") :])


def test_launcher_loaded_model_predicts_like_rasa():
    model = str(ensure_model())
    plain, launched = _probe(model, "plain"), _probe(model, "launcher")
    assert not any(p["jax"] for p in launched)
    for a, b in zip(plain, launched, strict=True):
        assert (a["intent"], a["entities"], a["action"], a["policy"]) == (
            b["intent"],
            b["entities"],
            b["action"],
            b["policy"],
        )
        assert (
            abs(a["confidence"] - b["confidence"]) < 1e-6
            and abs(a["action_score"] - b["action_score"]) < 1e-6
        )
    assert plain[0]["intent"] == "life_event" and ["region", "ningxia"] in plain[1]["entities"]

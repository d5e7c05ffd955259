"""Settings of the action server process (Rasa's venv has pydantic 1, so it cannot share the API's object).

Same env prefix and names as knowledge/settings.py, so one environment configures both processes.
"""

from pydantic import BaseSettings


class ActionSettings(BaseSettings):
    api_url: str = "http://127.0.0.1:8000"
    internal_token: str = "minsheng-internal-dev-token"
    api_timeout_seconds: float = 20.0
    max_form_questions: int = 6
    log_level: str = "INFO"  # actions/server.py: JSON lines with the turn's request id (api/json_logs.py)
    log_format: str = "json"

    class Config:
        env_prefix = "MINSHENG_"


settings = ActionSettings()

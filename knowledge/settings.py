"""The one settings object. Every knob comes from here (env prefix ``MINSHENG_``); nothing else reads os.environ."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from limits import parse_many
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__file__).resolve().parent


class WeChatAccount(BaseModel):
    """One WeChat Official Account (公众号), served at /wechat/{name} (api/wechat/, docs/wechat.md).

    ``token``, ``app_secret`` and ``encoding_aes_key`` are secrets: kept out of reprs and never logged."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,16}$")
    token: str = Field(pattern=r"^[A-Za-z0-9_-]{3,32}$", repr=False)
    app_id: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    app_secret: str = Field("", max_length=128, repr=False)
    encoding_aes_key: str = Field("", pattern=r"^([A-Za-z0-9]{43})?$", repr=False)
    mode: Literal["plaintext", "compatible", "safe"] = "plaintext"

    @model_validator(mode="after")
    def _key_for_encryption(self) -> WeChatAccount:
        if self.mode != "plaintext" and not (self.encoding_aes_key and self.app_id):
            raise ValueError(
                f"WeChat account {self.name!r}: mode {self.mode} needs encoding_aes_key and app_id"
            )
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINSHENG_", env_file=None, extra="ignore")

    # Where runtime state lives: Chroma, embedding cache, index manifests.
    data_dir: Path = REPO_ROOT / "var"
    # Default knowledge base shipped in the repo (plan text + metadata sidecars).
    sources_dir: Path = PACKAGE_DIR / "data" / "sources"
    # Converted models are shared between clones: converting costs a minute and ~500 MB.
    models_dir: Path = Path.home() / ".cache" / "minsheng" / "models"

    # A hub name (e.g. "BAAI/bge-small-zh-v1.5") or a local directory. Empty = the offline default,
    # multilingual-e5-small prepared by `minsheng models prepare` under models_dir.
    embedding_model: str = ""
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    embed_batch_size: int = Field(32, ge=1, le=512)
    # int8 dynamic quantisation of the Linear layers: ~2x faster queries on CPU, same ranking quality.
    quantize_embeddings: bool = True
    torch_threads: int = Field(2, ge=1, le=64)

    # Chroma: embedded PersistentClient under data_dir unless a server URL is given.
    chroma_url: str | None = None
    keep_versions: int = Field(3, ge=1, le=50)

    # Admin document uploads (knowledge/converters.py, docs/security.md): the file itself is at most 20 MB
    # (MAX_UPLOAD_BYTES); what it unpacks and converts to is bounded too. Over a limit: 413, nothing stored.
    upload_max_text_bytes: int = Field(20 * 1024 * 1024, ge=1024)  # converted text, UTF-8
    upload_max_unpacked_bytes: int = Field(50 * 1024 * 1024, ge=1024 * 1024)  # a .docx's declared total
    upload_max_zip_entries: int = Field(1000, ge=10)
    # Compression ratio cap (uncompressed : compressed) for zip entries of at least upload_zip_ratio_min_bytes.
    upload_max_zip_ratio: float = Field(100.0, ge=2.0)
    upload_zip_ratio_min_bytes: int = Field(1024 * 1024, ge=0)
    upload_max_pdf_pages: int = Field(500, ge=1)
    # Each conversion runs in a child process killed after this long (0 = in the API process, no watchdog),
    # whose address space may grow by at most upload_parse_memory_mb (Linux; 0 = unlimited).
    upload_parse_timeout_seconds: float = Field(60.0, ge=0, le=3600)
    upload_parse_memory_mb: int = Field(1024, ge=0)

    # Retrieval fusion.
    rrf_k: int = Field(60, ge=1)
    candidate_pool: int = Field(50, ge=5, le=500)
    region_boost: float = Field(1.6, ge=1.0)

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "minsheng"
    # Conversations older than this are forgotten (history, hand-off flag); also bounds Rasa trackers.
    session_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    history_limit: int = Field(400, ge=10)
    # Rasa re-reads the whole tracker every turn; after this many turns the gateway continues the
    # conversation in a fresh tracker with the slots carried over, so turn 300 costs what turn 10 does.
    tracker_rotate_turns: int = Field(40, ge=5)
    # Declined questions and feedback (the admins' insights): each record is dropped after this many days,
    # and each list keeps at most this many records.
    insights_retention_days: int = Field(30, ge=1, le=3650)
    insights_kept: int = Field(5000, ge=100, le=1_000_000)
    # Personal data residents type (ID, phone, card numbers, e-mail) is stored masked everywhere; the value
    # as typed is kept apart only this long, for an operator handling a hand-off to reveal (audited).
    pii_reveal_ttl_seconds: int = Field(24 * 3600, ge=60, le=30 * 24 * 3600)
    # Closed hand-off tickets (reason and profile, masked) are dropped this many days after closing; open ones
    # are kept until an operator closes them (api/conversations.py).
    handoff_retention_days: int = Field(30, ge=1, le=3650)

    # Dialogue manager (Rasa REST channel) and the action server, all on loopback by default.
    rasa_url: str = "http://127.0.0.1:5005"
    # Rasa serves one turn at a time per process (its CPU work holds the event loop), so the local stack runs this
    # many Rasa servers on consecutive ports from rasa_url's and the gateway sends each turn to the least busy one;
    # the shared Redis tracker + lock store make any of them able to continue any conversation. Behind a load
    # balancer (deploy/k8s: a Service over Rasa replicas) set 1.
    rasa_servers: int = Field(2, ge=1, le=8)
    rasa_token: str = "minsheng-local-token"
    rasa_timeout_seconds: float = Field(30.0, gt=0)
    action_port: int = 5055
    # Shared secret between the action server and the API's internal endpoints (ticket creation).
    internal_token: str = "minsheng-internal-dev-token"

    # Staff accounts: login sessions, login rate limit, and the demo accounts `minsheng up` creates.
    session_login_seconds: int = Field(8 * 3600, ge=60)
    login_rate_limit: str = "10/minute"
    cookie_secure: bool = False  # Secure cookies in demo mode too (outside demo mode they always are)
    # Pages allowed to embed the widget (CORS for the resident endpoints; staff endpoints use SameSite cookies).
    cors_origins: list[str] = ["*"]
    demo_operator_password: str = "operator-demo-2025"
    demo_admin_password: str = "admin-demo-2025"

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # Demo mode (MINSHENG_DEMO=1, set and announced by `minsheng up`): the demo staff accounts with their
    # published passwords, the development tokens above, and session cookies without `Secure` (plain-HTTP
    # localhost). Off, the API refuses to start while a secret still has its default (api/deployment.py) and
    # staff cookies are always `Secure`. On a non-loopback address the defaults are refused in either mode.
    demo: bool = False
    # Peers (addresses or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are believed: the reverse
    # proxies in front of the API. Empty = nobody's; the client address is the TCP peer. Used for the rate
    # limits and the staff-login limit. Comma separated or a JSON list.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    # Request bounds: JSON bodies up to this size; the admin document uploads up to the upload cap
    # (knowledge/converters.py) plus a little multipart framing. Larger bodies: 413, never buffered (api/body_limit.py).
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Rate limits (the `limits` notation, e.g. "30/minute" or "30/minute;300/hour"), moving windows in Redis,
    # per client address and, for chat and feedback, per conversation. Calls with the internal token (the
    # action server) and signed-in staff are not limited. Over a limit: 429 with Retry-After.
    rate_chat: str = "30/minute"
    rate_chat_session: str = "20/minute"
    rate_search: str = "30/minute"
    rate_answer: str = "20/minute"  # anonymous callers only (the action server sends the internal token)
    rate_feedback: str = "30/minute"
    rate_feedback_session: str = "10/minute"

    # --- WeChat Official Account channel (issue 15: api/wechat/, docs/wechat.md) ---------------------------------
    # Accounts as a JSON list of {"name", "token", "app_id", "app_secret", "encoding_aes_key", "mode"}, each
    # served at /wechat/{name}; demo mode adds "demo" (token minsheng-demo, plaintext; api/wechat/accounts.py).
    wechat_accounts: list[WeChatAccount] = []
    wechat_api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"  # WeChat's API (a fake in the tests)
    # WeChat waits 5 s for a passive reply; an answer not ready within this goes out as a 客服消息 instead.
    wechat_reply_budget_seconds: float = Field(4.0, gt=0, le=4.5)
    wechat_public_base_url: str = ""  # public https base for citation links (empty: the callback's host)

    # --- scale-out (issue 16): re-index jobs survive the replica running them (api/jobs.py) ---------------
    # A job is run under a lease in Redis that its replica's heartbeat renews (every third of this); when the
    # replica dies the lease expires and another replica takes the job over after at most this long.
    job_lease_seconds: float = Field(30.0, ge=0.5, le=600)
    # A job whose replica died this many times (it may be what kills them) is reported failed instead.
    job_max_attempts: int = Field(3, ge=1, le=10)
    # Logs of the API processes and the action server (api/json_logs.py): one JSON object per line with the
    # request id, personal data masked; "text" for a developer's terminal (same masking).
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # --- optional LLM phrasing of the lead line (knowledge/llm_phrasing.py, docs/langchain.md) -------------
    # Any OpenAI-compatible endpoint (vLLM, Ollama, a cloud API). Off unless both the URL and the model are set;
    # off, answers are exactly the template/extractive ones. A phrased lead is shown only when it passes the
    # template lead's checks (every figure in a cited quote, no unquoted place, service or amount).
    llm_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama), http://vllm:8000/v1
    llm_model: str | None = None  # e.g. qwen2.5:7b-instruct, Qwen/Qwen2.5-7B-Instruct
    # A plain string like the other secrets here (api/stack.py hands settings to child processes as text).
    llm_api_key: str | None = None  # local servers accept any key
    # Hard budget for the whole step (retries included): a slow endpoint delays an answer by at most this.
    llm_timeout_seconds: float = Field(3.0, gt=0, le=60)
    llm_max_retries: int = Field(1, ge=0, le=5)  # the client's retries (connection errors, 429, 5xx)
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(160, ge=16, le=2048)
    # Circuit breaker: after this many consecutive failures (errors, timeouts) the LLM is skipped for the
    # cool-down, then one call tries it again.
    llm_breaker_failures: int = Field(3, ge=1, le=100)
    llm_breaker_cooldown_seconds: float = Field(60.0, ge=0.1, le=3600)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator(
        "login_rate_limit",
        "rate_chat",
        "rate_chat_session",
        "rate_search",
        "rate_answer",
        "rate_feedback",
        "rate_feedback_session",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '30/minute': {value!r}") from exc
        return value

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def embedding_model_path(self) -> str:
        return self.embedding_model or str(self.models_dir / "multilingual-e5-small")

    @property
    def rasa_urls(self) -> list[str]:
        url = urlparse(self.rasa_url)
        port = url.port or 5005
        return [url._replace(netloc=f"{url.hostname}:{port + i}").geturl() for i in range(self.rasa_servers)]

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""The one settings object. Every knob comes from here (env prefix ``MINSHENG_``); nothing else reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__file__).resolve().parent


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
    cookie_secure: bool = False  # set true behind HTTPS
    # Pages allowed to embed the widget (CORS for the resident endpoints; staff endpoints use SameSite cookies).
    cors_origins: list[str] = ["*"]
    demo_operator_password: str = "operator-demo-2025"
    demo_admin_password: str = "admin-demo-2025"

    api_host: str = "127.0.0.1"
    api_port: int = 8000

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

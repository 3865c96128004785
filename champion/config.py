"""Server settings, read once from the environment (prefix CHAMPION_) and passed in explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAMPION_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default=Path(".champion"))
    """Folder for the embedded database, artifacts, the signing key and the TLS certificate."""

    database_url: str | None = None
    """SQLAlchemy URL. Unset: SQLite (WAL) at `<home>/champion.db`. PostgreSQL: `postgresql+psycopg://...`."""

    artifacts_dir: Path | None = None
    """Where model files are kept, content-addressed. Unset: `<home>/artifacts`."""

    artifacts_url: str | None = None
    """`s3://bucket/prefix`: keep model files, data assets, job results and captured data in S3-compatible
    object storage instead of the local folder (credentials and endpoint from the standard `AWS_*`
    variables). Each replica downloads a blob once into `<home>/cache` and checks its SHA-256 there."""

    dask_scheduler: str | None = None
    """`tcp://host:port` of a Dask scheduler: batch jobs over data assets are split into partitions and
    scored on its workers. Unset: jobs run inside the server process that claims them."""

    job_memory_bytes: int | None = Field(default=None, ge=1)
    """The memory a batch job may take inside the server process; a job whose data asset would need more
    is refused (run it on Dask instead). Unset: half of the machine's physical memory."""

    secret_key: str | None = None
    """Signs access tokens (JWT). Unset: generated once and kept in `<home>/secret.key`."""

    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    """Lifetime of tokens issued by /icp4d-api/v1/authorize."""

    max_upload_bytes: int = Field(default=1024**3, ge=1)
    """Largest model file or archive accepted in one upload; larger ones get 413."""

    max_request_bytes: int = Field(default=32 * 1024**2, ge=1024)
    """Largest prediction request body; larger ones get 413."""

    max_rows_per_request: int = Field(default=100_000, ge=1)
    """Most rows one prediction request may score (every face); more get 413. The model answers them in
    batch-sized chunks, so a large request neither waits out nor holds up small ones. 100,000 rows of up
    to ~30 numeric features fit the default body limit; larger sets belong in a batch job."""

    load_timeout_seconds: float = Field(default=300, gt=0)
    """How long an operation waits for every server process to load a model (or swap to it)."""

    capture_flush_seconds: float = Field(default=10.0, gt=0, le=3600)
    """How often each server process stores the predictions it captured (sooner when its buffer is half
    full). Shorter shows fresher monitoring and writes more, smaller files."""

    capture_buffer_cells: int = Field(default=1_000_000, ge=1_000)
    """How much each server process holds for prediction capture between flushes, in cells of 8 bytes: a
    row counts its features, its probabilities and 3 more (its time, label and association id). It
    flushes early past one half; past it, captured rows are dropped and counted
    (`champion_capture_dropped_rows_total`)."""

    trial_timeout_seconds: float = Field(default=120.0, gt=0)
    """How long a replacement candidate's trial (load, warm-up, replay of captured rows) may take before it
    is refused. The trial runs in a child process, off the serving path."""

    trial_memory_bytes: int = Field(default=8 * 1024**3, ge=256 * 1024**2)
    """The address space a trial's child process may use; a candidate needing more fails its trial."""

    admin_user: str = "admin"
    """User name of the first admin, created on first start."""

    admin_api_key: str | None = None
    """API key for the first admin. Unset: generated and printed once on first start."""

    replicas: int = Field(default=1, ge=1)
    """How many server processes share this database and artifact store."""

    metrics_key: str | None = None
    """A bearer secret that may read /metrics and nothing else (for a Prometheus scrape config).
    Unset: only server admins may read /metrics."""

    @field_validator("admin_api_key")
    @classmethod
    def _key_has_a_dot(cls, value: str | None) -> str | None:
        # The WML client sends a token without a "." as Basic rather than Bearer.
        if value is not None and ("." not in value or len(value) < 16):
            raise ValueError("CHAMPION_ADMIN_API_KEY must be at least 16 characters and contain a '.'")
        return value

    @field_validator("metrics_key")
    @classmethod
    def _metrics_key_is_long(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("CHAMPION_METRICS_KEY must be at least 16 characters")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_is_long(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("CHAMPION_SECRET_KEY must be at least 32 characters")
        return value

    @field_validator("artifacts_url")
    @classmethod
    def _artifacts_url_is_s3(cls, value: str | None) -> str | None:
        if value is None:
            return None
        bucket = value.removeprefix("s3://").split("/", 1)[0]
        if not value.startswith("s3://") or not bucket:
            raise ValueError("CHAMPION_ARTIFACTS_URL must look like s3://bucket or s3://bucket/prefix")
        return value.rstrip("/")

    @field_validator("dask_scheduler")
    @classmethod
    def _scheduler_is_an_address(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("CHAMPION_DASK_SCHEDULER must be a scheduler address such as tcp://127.0.0.1:8786")
        return value

    @model_validator(mode="after")
    def _shared_storage_for_replicas(self) -> Settings:
        if self.replicas > 1 and self.resolved_database_url.startswith("sqlite"):
            raise ValueError("several replicas need a shared database: set CHAMPION_DATABASE_URL to PostgreSQL")
        if self.replicas > 1 and self.secret_key is None:
            # Each replica has a home of its own: a key generated there would sign tokens the others refuse.
            raise ValueError("several replicas must sign tokens alike: set CHAMPION_SECRET_KEY, the same on each")
        if self.artifacts_url is not None and self.artifacts_dir is not None:
            raise ValueError("set CHAMPION_ARTIFACTS_URL or CHAMPION_ARTIFACTS_DIR, not both")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'champion.db'}"

    @property
    def resolved_artifacts_dir(self) -> Path:
        return self.artifacts_dir or self.home / "artifacts"

    @property
    def cache_dir(self) -> Path:
        """Where blobs of an object store are downloaded to (and staged on their way up)."""
        return self.home / "cache"

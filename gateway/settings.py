"""Gateway settings: a TOML file for the service and its backends, plus environment overrides.

Environment variables ``ADQL_GATEWAY_<FIELD>`` override the service fields of the file (for
example ``ADQL_GATEWAY_DATA_DIR``); backends come from the file only.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import override

from gateway.kinds.registry import kind_for

#: How the gateway learns who sends a request (see :mod:`gateway.tap.identity`).
IdentityKind = Literal["none", "tokens", "introspection", "header"]

#: How a backend's configured credentials are sent (see :mod:`gateway.federation.backend_auth`).
AuthScheme = Literal["bearer", "datalab", "basic"]


class ColumnOverride(BaseModel):
    """Metadata for one column that the data file does not carry (a sidecar in the config)."""

    model_config = {"extra": "forbid"}

    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None
    xtype: str | None = None
    datatype: str | None = None
    arraysize: str | None = None
    indexed: bool | None = None
    principal: bool | None = None


class LocalTable(BaseModel):
    """A table of a ``local`` backend: a Parquet, CSV, FITS or VOTable file."""

    model_config = {"extra": "forbid"}

    name: str = Field(description="Qualified name seen by clients, e.g. dp1.Object")
    path: Path = Field(description="Data file; relative paths are relative to the config file")
    description: str | None = None
    columns: dict[str, ColumnOverride] = Field(default_factory=dict)


class BackendConfig(BaseModel):
    """One backend of the federation."""

    model_config = {"extra": "forbid"}

    name: str
    kind: str = Field(
        description="The backend kind: a name registered in gateway.kinds (hsc, tap, sia, "
        "spectral, scs, ssap, local, or a plugin's)."
    )
    url: str | None = None
    tables: list[LocalTable] = Field(default_factory=list)
    schema_prefix: str | None = None
    context: str | None = None
    table_name: str | None = Field(
        default=None,
        description="Kinds serving one table (scs, ssap): its name under the backend's "
        "schema (default: the kind's, e.g. cone for scs).",
    )
    page_size: int = Field(
        default=2_000_000,
        gt=0,
        description="Rows per page asked of paged backends (HSC). Large pages avoid "
        "re-running the query per page; the HSC notebooks ask for 2,000,000.",
    )
    sia_profile: Literal["standard", "rubin"] = Field(
        default="standard",
        description="SIA backends: 'rubin' adds the Rubin ObsCore columns and DPSUBTYPE.",
    )
    density_hint: float | None = Field(
        default=None,
        ge=0,
        description="Rows per square degree of this backend's tables near typical queries "
        "(optional): lets the federated cross-match choose between one cone per cluster "
        "of outer rows (BindJoin) and the whole derived cone (LocalJoin) without a probe.",
    )
    datalink_url: str | None = Field(
        default=None,
        description="DataLink {links} endpoint of the service that owns this backend's data "
        "products. Result rows whose access_url carries an ID starting with "
        "datalink_id_prefix then point at the gateway's own /datalink/links, which forwards "
        "the request here.",
    )
    datalink_id_prefix: str | None = Field(
        default=None, description="Dataset IDs (publisher DIDs) that datalink_url knows."
    )
    table_rows: dict[str, int] = Field(
        default_factory=dict,
        description="Approximate row counts of this backend's tables by federated name "
        "('*' for the others): a query that would fetch such a table whole is refused above "
        "whole_fetch_max_rows unless the client sends FETCH_WHOLE=true.",
    )
    max_concurrency: int = 4
    timeout_seconds: float = 60.0
    forward_authorization: bool = Field(
        default=False,
        description="Send the client's own Authorization header to this backend (and to no "
        "other); it then replaces the backend's configured Authorization credentials.",
    )
    auth: AuthScheme | None = Field(
        default=None,
        description="How the configured credentials are sent: bearer (Authorization: Bearer), "
        "datalab (X-DL-AuthToken) or basic (username and password). Default: datalab for "
        "spectral backends, bearer for the others.",
    )
    token: SecretStr | None = Field(
        default=None, description="Token written in the file; prefer token_env."
    )
    token_env: str | None = Field(
        default=None, description="Environment variable holding the token (read at start)."
    )
    username: str | None = Field(default=None, description="User name for auth = basic.")
    password: SecretStr | None = Field(
        default=None,
        description="Password for auth = basic written in the file; prefer password_env.",
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the password for auth = basic."
    )

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        kind_for(value)  # a ValueError naming the known kinds
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> BackendConfig:
        problem = kind_for(self.kind).check_config(self)
        if problem is not None:
            raise ValueError(problem)
        if (self.datalink_url is None) != (self.datalink_id_prefix is None):
            msg = f"backend '{self.name}': datalink_url and datalink_id_prefix go together"
            raise ValueError(msg)
        self._check_credentials()
        return self

    def _check_credentials(self) -> None:
        """One source per secret, and each secret with the scheme that uses it."""
        problem = None
        has_token = self.token is not None or self.token_env is not None
        has_password = self.password is not None or self.password_env is not None
        if self.token is not None and self.token_env is not None:
            problem = "give token or token_env, not both"
        elif self.password is not None and self.password_env is not None:
            problem = "give password or password_env, not both"
        elif self.auth == "basic" and (self.username is None or not has_password):
            problem = "auth = basic needs username and password (or password_env)"
        elif self.auth == "basic" and has_token:
            problem = "auth = basic takes username and password, not a token"
        elif self.auth != "basic" and (self.username is not None or has_password):
            problem = "username and password are for auth = basic"
        elif self.auth is not None and self.auth != "basic" and not has_token:
            problem = f"auth = {self.auth} needs token or token_env"
        if problem is not None:
            raise ValueError(f"backend '{self.name}': {problem}")


class GatewaySettings(BaseSettings):
    """Service-wide settings; every limit here is advertised in /capabilities."""

    model_config = SettingsConfigDict(env_prefix="ADQL_GATEWAY_", extra="forbid")

    base_url: str = Field(
        default="http://127.0.0.1:8000/tap",
        title="Public base URL",
        description="The TAP base URL clients use; accessURLs and job links are built from it.",
    )
    data_dir: Path = Field(
        default=Path.home() / ".local" / "share" / "adql-gateway",
        title="Data directory",
        description="Job database and result files live here.",
    )
    service_title: str = "adql-gateway"
    maxrec_default: int = Field(default=100_000, ge=0)
    maxrec_hard: int = Field(default=10_000_000, ge=0)
    upload_max_rows: int = Field(default=1_000_000, ge=0)
    upload_max_bytes: int = Field(default=200_000_000, ge=0)
    upload_url_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts from which UPLOAD by http(s) URL is allowed; empty refuses all.",
    )
    execution_duration_default: int = Field(default=600, ge=0)
    execution_duration_hard: int = Field(default=3600, ge=0)
    retention_default: int = Field(default=7 * 86400, ge=0)
    retention_hard: int = Field(default=30 * 86400, ge=0)
    max_concurrent_jobs: int = Field(default=4, ge=1)
    job_database_url: str | None = Field(
        default=None,
        title="Job database",
        description="SQLAlchemy URL of the UWS job database, e.g. "
        "postgresql+asyncpg://user@host/db, shared by every replica and worker. "
        "Unset: SQLite in data_dir (one process).",
    )
    redis_url: str | None = Field(
        default=None,
        title="Job queue",
        description="Redis URL (redis://host:6379/0) of the arq queue that "
        "`adql-gateway worker` processes take async jobs from. Unset: jobs run inside the "
        "gateway process.",
    )
    queue_name: str = Field(default="adql-gateway:uws", description="arq queue name.")
    results_bucket: str | None = Field(
        default=None,
        title="Result bucket",
        description="S3-compatible bucket for job results and uploads, shared by replicas and "
        "workers on several machines. Unset: files under data_dir/jobs. Credentials come from "
        "the usual AWS_* environment variables.",
    )
    results_prefix: str = Field(default="", description="Key prefix inside results_bucket.")
    results_endpoint_url: str | None = Field(
        default=None, description="Endpoint of a non-AWS S3 service (MinIO, Ceph, ...)."
    )
    results_region: str | None = None
    identity: IdentityKind = Field(
        default="none",
        description="Who owns jobs: none (anonymous), tokens (identity_tokens), introspection "
        "(RFC 7662 endpoint identity_introspection_url) or header (set by a trusted proxy).",
    )
    identity_tokens: dict[str, str] = Field(
        default_factory=dict, description="Bearer token -> user name, for identity 'tokens'."
    )
    identity_introspection_url: str | None = None
    identity_header: str = Field(
        default="X-Auth-Request-User",
        description="Header carrying the user name, for identity 'header'.",
    )
    quota_running_jobs: int = Field(
        default=0, ge=0, description="Queued or executing async jobs per user (0: no limit)."
    )
    quota_result_bytes: int = Field(
        default=0, ge=0, description="Bytes of kept job results per user (0: no limit)."
    )
    job_stale_after: int = Field(
        default=30,
        ge=1,
        description="Seconds without a heartbeat after which a running job's executor is "
        "taken for dead: the job is retried once, then fails.",
    )
    sync_timeout: int = Field(default=600, ge=1)
    whole_fetch_max_rows: int = Field(
        default=1_000_000,
        ge=0,
        title="Largest remote table fetched whole",
        description="A query whose plan fetches a remote table whole (the backend takes "
        "none of its conditions and no TOP) is refused when the table's row estimate "
        "(backend table_rows) is above this, unless the client sends FETCH_WHOLE=true.",
    )
    backends: list[BackendConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_unique_backends(self) -> GatewaySettings:
        seen: set[str] = set()
        for backend in self.backends:
            if backend.name in seen:
                msg = f"backend name '{backend.name}' is used twice"
                raise ValueError(msg)
            seen.add(backend.name)
        return self

    @classmethod
    @override
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Let the environment override values read from the TOML file."""
        del settings_cls, dotenv_settings, file_secret_settings
        return (env_settings, init_settings)

    @property
    def base_path(self) -> str:
        """The path part of ``base_url`` where the TAP routes are mounted (e.g. ``/tap``)."""
        return urlsplit(self.base_url).path.rstrip("/")


def load_settings(path: Path | None = None, **overrides: Any) -> GatewaySettings:
    """Read settings from a TOML file (if given), then the environment, then ``overrides``.

    Relative paths in the file (``data_dir`` and table paths) are resolved against the
    file's directory, so a configuration means the same wherever the gateway is started.
    """
    data: dict[str, Any] = {}
    if path is not None:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        service = data.pop("service", {})
        data = {**service, **data}
        root = path.resolve().parent
        if "data_dir" in data and not Path(data["data_dir"]).expanduser().is_absolute():
            data["data_dir"] = str(root / data["data_dir"])
        for backend in data.get("backends", []):
            for table in backend.get("tables", []):
                table_path = Path(table["path"])
                if not table_path.is_absolute():
                    table["path"] = str(root / table_path)
    settings = GatewaySettings(**data)
    # Explicit overrides (tests, CLI flags) win over both file and environment.
    return settings.model_copy(update=overrides) if overrides else settings

"""One `Settings` object read from the environment (prefix ``CC_``) or a ``.env`` file.

Every setting has a documented default so that ``callcenter demo`` runs with no configuration at all.
Secrets have no default in the repository: when ``CC_SECRET_KEY`` is unset a random key is made per process.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CC_", env_file=".env", extra="ignore")

    # --- general -------------------------------------------------------------------------------------
    data_dir: Path = Field(Path("var"), description="Folder for the SQLite file, caches and spool copies.")
    language: Literal["zh-CN", "en"] = Field("zh-CN", description="Default user-interface language.")
    default_region: str = Field("CN", description="Region used to normalise phone numbers without a prefix.")
    timezone: str = Field("Asia/Shanghai", description="Business time zone for calendars and reports.")
    secret_key: str = Field(
        default_factory=lambda: secrets.token_urlsafe(32),
        description="Signs sessions and CSRF tokens. Set it in production; random per process otherwise.",
    )

    # --- storage -------------------------------------------------------------------------------------
    database_url: str = Field("", description="SQLAlchemy URL; empty means sqlite in data_dir.")
    redis_url: str = Field("", description="Redis URL; empty means the in-process event bus.")
    bus_stream_maxlen: int = Field(100_000, description="Bounded length of the Redis event history stream.")

    # --- web -----------------------------------------------------------------------------------------
    http_host: str = Field("127.0.0.1", description="Address the web server listens on.")
    http_port: int = Field(8000, description="Port the web server listens on.")
    sip_wss_url: str = Field("", description="Asterisk WebRTC websocket for the browser softphone; empty = off.")

    # --- AMI -----------------------------------------------------------------------------------------
    pbx: str = Field("pbx1", description="Name of the PBX, carried on every event as `pbx`.")
    ami_host: str = Field("127.0.0.1", description="Asterisk Manager Interface host.")
    ami_port: int = Field(5038, description="Asterisk Manager Interface port.")
    ami_user: str = Field("cti", description="AMI user name.")
    ami_secret: str = Field("", description="AMI secret (never stored in the repository).")
    ami_auth: Literal["plain", "md5"] = Field("md5", description="AMI login: plain secret or MD5 challenge.")
    ami_action_timeout_s: float = Field(5.0, description="Every AMI action fails with a clear error after this.")
    ami_reconnect_max_s: float = Field(30.0, description="Cap of the exponential reconnect backoff.")
    ami_ping_s: float = Field(10.0, description="Keep-alive Ping interval on the AMI connection.")

    # --- FastAGI / IVR -------------------------------------------------------------------------------
    agi_host: str = Field("127.0.0.1", description="Address the FastAGI server listens on.")
    agi_port: int = Field(4573, description="FastAGI port (agi://HOST:4573/<flow>).")
    ivr_flows_dir: Path = Field(
        Path(__file__).parent / "flows", description="Folder of IVR flow YAML files."
    )
    ivr_fallback_queue: str = Field("support", description="Queue a caller falls back to when a flow fails.")
    agi_session_timeout_s: float = Field(600.0, description="Upper bound on one FastAGI session.")

    # --- recordings and voicemail --------------------------------------------------------------------
    recordings_dir: Path = Field(Path("var/monitor"), description="MixMonitor spool folder.")
    voicemail_dir: Path = Field(Path("var/voicemail"), description="app_voicemail spool folder.")

    # --- call handling and KPIs ----------------------------------------------------------------------
    wrapup_s: int = Field(15, description="After-call work seconds before an agent is available again.")
    sl_threshold_s: int = Field(20, description="Service level: answered within this many seconds.")
    short_abandon_s: int = Field(5, description="Abandons within this many seconds are short abandons.")

    # --- demo ----------------------------------------------------------------------------------------
    sim_host: str = Field("127.0.0.1", description="Address the built-in PBX simulator listens on.")
    sim_port: int = Field(15038, description="AMI port of the built-in PBX simulator.")
    sim_calls_per_minute: float = Field(12.0, description="Demo traffic: inbound calls per minute.")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'callcenter.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

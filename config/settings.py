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
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least level of what `serve` and `demo` write to their console log."
    )
    secret_key: str = Field(
        default_factory=lambda: secrets.token_urlsafe(32),
        description="Signs what sessions hand out to be checked later (websocket tickets, login captchas). "
        "Set it in production, the same for every web process; random per process otherwise.",
    )

    # --- storage -------------------------------------------------------------------------------------
    database_url: str = Field("", description="SQLAlchemy URL; empty means sqlite in data_dir.")
    redis_url: str = Field("", description="Redis URL; empty means the in-process event bus.")
    bus_stream_maxlen: int = Field(100_000, description="Bounded length of the Redis event history stream.")
    redis_prefix: str = Field(
        "cc:",
        description="Prefix of every Redis key (event stream, live channel, bridge lock): centers sharing "
        "one Redis keep apart by it.",
    )
    redis_timeout_s: float = Field(
        5.0, description="A Redis publish not answered within this fails; the journal hands it over again."
    )
    # --- event journal (cti.journal): every domain event on disk before the bus and the history take it
    journal_enabled: bool = Field(True, description="Journal domain events (off: straight to the bus, lost in outage).")
    journal_dir: Path = Field(Path(""), description="Folder of the event journal; empty means data_dir/journal.")
    journal_fsync: Literal["always", "interval", "off"] = Field(
        "interval", description="fsync of the journal: before each append returns, every interval, or never."
    )
    journal_fsync_interval_s: float = Field(0.2, description="With journal_fsync=interval: the longest unsynced time.")
    journal_segment_bytes: int = Field(16 * 1024 * 1024, description="Size at which a journal segment is closed.")
    journal_max_bytes: int = Field(
        0, description="Producers wait while the journal's files are larger than this; 0 = what the disk holds."
    )

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
    # --- AMI bridge election (cti.bus.lock) ----------------------------------------------------------
    bridge_lock_ttl_s: float = Field(
        10.0, description="TTL of the Redis lock that elects the one active AMI bridge per PBX."
    )
    command_relay_timeout_s: float = Field(
        10.0,
        description="With several nodes, a call command of a desk on a node without the bridge goes to the node "
        "holding it; not taken within this, it fails with a clear error and is not carried out.",
    )

    # --- FastAGI / IVR -------------------------------------------------------------------------------
    agi_host: str = Field("127.0.0.1", description="Address the FastAGI server listens on.")
    agi_port: int = Field(4573, description="FastAGI port (agi://HOST:4573/<flow>).")
    ivr_flows_dir: Path = Field(Path(__file__).parent / "flows", description="Folder of IVR flow YAML files.")
    ivr_fallback_queue: str = Field("support", description="Queue a caller falls back to when a flow fails.")
    agi_session_timeout_s: float = Field(600.0, description="Upper bound on one FastAGI session.")
    # --- IVR: business calendar and dialplan hand-off (owned by ivr/) ---
    ivr_calendar_file: Path = Field(
        Path(__file__).parent / "calendar.yaml",
        description="Business calendar YAML (working hours, holidays, make-up working days).",
    )
    ivr_transfer_context: str = Field(
        "ivr-transfer", description="Dialplan context an IVR transfer continues in (extension = target)."
    )

    # --- recordings and voicemail --------------------------------------------------------------------
    recordings_dir: Path = Field(Path("var/monitor"), description="MixMonitor spool folder.")
    voicemail_dir: Path = Field(Path("var/voicemail"), description="app_voicemail spool folder.")
    # --- recordings: index, playback, access, retention (owned by recordings/) ---
    recordings_pbx_dir: str = Field(
        "/var/spool/asterisk/monitor",
        description="The MixMonitor folder as Asterisk names it; MIXMONITOR_FILENAME paths under it map "
        "to recordings_dir.",
    )
    recordings_cache_dir: Path = Field(
        Path(""), description="Cache of browser copies and waveforms; empty means data_dir/recordings-cache."
    )
    recordings_browser_format: Literal["mp3", "opus"] = Field(
        "mp3", description="Format recordings are transcoded to for the browser player."
    )
    recordings_role_scopes: dict[str, str] = Field(
        default_factory=lambda: {"admin": "all", "quality": "all", "supervisor": "department", "agent": "own"},
        description="Recordings a role may hear: own, department, department_tree, all (unlisted: none).",
    )
    recordings_missing_grace_s: float = Field(
        300.0, description="A stopped recording whose file has not appeared after this is reported missing."
    )
    recordings_max_s: float = Field(
        21600.0, description="A recording never seen to stop is reported missing after this many seconds."
    )
    recordings_keep_days: int = Field(
        0, description="Days to keep audio of queues without a retention rule; 0 keeps it forever."
    )
    recordings_retention_interval_s: float = Field(3600.0, description="How often serve applies the retention rules.")
    # --- end recordings ---

    # --- agent desk: websocket hub and desk options (owned by agent_desk/ws.py, api/desk.py) ---
    desk_queues: list[str] = Field(
        default_factory=lambda: ["support", "sales"], description="Queues an agent can log in to from the desk."
    )
    desk_self_bind_extension: bool = Field(
        True, description="Agents may bind an extension themselves (else only through a seat)."
    )
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (https://host[:port]) allowed to open /ws besides the site itself; browsers only.",
    )
    ws_replay_buffer: int = Field(500, description="Events kept per agent for replay after a reconnect.")
    ws_max_socket_buffer: int = Field(
        1 << 20, description="Bytes a socket may have unsent before the hub drops it as too slow."
    )
    wallboard_updates_per_s: float = Field(
        2.0,
        description="At most this many queue.stats per queue per second reach the wallboards, the latest "
        "numbers winning (0: every change at once), so fan-out follows the screens' refresh, not the call rate.",
    )
    wallboard_batch_ms: float = Field(
        250.0,
        description="Supervisors' sockets receive the latest agent.state per agent and queue.stats per queue "
        "once per this window, in one write (0: each frame at once); agents' own frames are never held.",
    )
    # --- end agent desk ---

    # --- call handling and KPIs ----------------------------------------------------------------------
    wrapup_s: int = Field(15, description="After-call work seconds before an agent is available again.")
    wrapup_queue_s: dict[str, int] = Field(
        default_factory=dict,
        description='Wrap-up seconds per queue, as JSON ({"sales": 30}); a queue not named uses wrapup_s.',
    )
    wrapup_then: Literal["available", "paused"] = Field(
        "available",
        description="At the end of wrap-up (timed on the server, desk tab open or not) the agent is available "
        "again, or stays paused (置忙, no reason) until he makes himself available.",
    )
    resync_interval_s: float = Field(
        120.0,
        description="How often the AMI bridge re-reads the PBX's channels and queues (CoreShowChannels, "
        "QueueStatus, BridgeList) and ends the calls the PBX no longer reports; 0: only at (re)connect.",
    )
    sl_threshold_s: int = Field(20, description="Service level: answered within this many seconds.")
    short_abandon_s: int = Field(5, description="Abandons within this many seconds are short abandons.")
    # --- call tracker: dialplan conventions and limits (owned by cti/tracker.py) ---
    tracker_inbound_contexts: list[str] = Field(
        default_factory=lambda: ["from-pstn", "from-trunk", "from-external"],
        description="Dialplan contexts where calls from outside (PSTN trunks) start: direction inbound.",
    )
    tracker_agent_contexts: list[str] = Field(
        default_factory=lambda: ["agents", "from-agents"],
        description="Contexts of the Local channels that reach agents (queue members Local/EXT@agents/n).",
    )
    tracker_internal_contexts: list[str] = Field(
        default_factory=lambda: ["internal", "from-internal", "outbound"],
        description="Contexts where calls from extensions start: direction outbound or internal.",
    )
    tracker_extension_pattern: str = Field(
        r"\d{2,6}", description="A PJSIP/SIP endpoint or Custom device whose name matches is an extension."
    )
    tracker_phantom_call_expiry_s: float = Field(
        4 * 3600.0, description="A call with no AMI event for this long is ended (its Hangup was never seen)."
    )
    tracker_max_live_calls: int = Field(
        20_000, description="Memory bound of the call tracker: beyond it the oldest calls are dropped."
    )
    # --- end call tracker ---

    # --- screen-pop (owned by cti/screen_pop.py) ---
    screen_pop_threads: int = Field(
        4,
        description="Threads (each with its own database connection) that make the screen-pop's caller lookups, "
        "so the event loop never waits on the database and other work in the default thread pool never delays a pop.",
    )

    # --- CRM, login and data ----------------------------------------------------------------------------
    default_area_code: str = Field(
        default="", description="Area code (10 = Beijing) completing local landline numbers; empty = none."
    )
    session_hours: int = Field(default=12, description="Hours a browser login (cookie session) lasts.")
    bearer_token_days: int = Field(default=30, description="An API bearer token lasts this many days.")
    login_captcha_after: int = Field(
        default=3, description="Failed logins of an account or from an address before a captcha is asked."
    )
    login_lock_after: int = Field(default=10, description="Failed logins that lock an account for a while.")
    login_address_lock_after: int = Field(
        default=30, description="Failed logins from one address that lock that address for a while."
    )
    login_window_minutes: int = Field(default=15, description="Failed logins count within this many minutes.")
    login_lock_minutes: int = Field(default=15, description="Minutes a locked account or address waits.")
    session_cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only; set true behind TLS."
    )
    pool_return_days: int = Field(
        default=30, description="A claimed customer with no follow-up for this many days returns to the pool."
    )
    upload_max_mb: int = Field(default=20, description="Largest accepted import upload or attachment, in MB.")
    import_max_unzipped_mb: int = Field(
        default=200, description="Largest decompressed content of an imported .xlsx, in MB (compression bombs)."
    )
    import_max_rows: int = Field(default=200_000, description="Most rows an imported file may hold.")
    import_max_cells: int = Field(default=5_000_000, description="Most cells an imported file may hold.")
    # --- end CRM ---

    # --- messaging: e-mail and SMS to customers (owned by crm_core/messaging) ---
    smtp_host: str = Field("", description="SMTP server for e-mail; empty = e-mails are only written to the log.")
    smtp_port: int = Field(587, description="SMTP port (587 submission with STARTTLS, 465 TLS, 25 plain).")
    smtp_user: str = Field("", description="SMTP login; empty = no login.")
    smtp_password: str = Field("", description="SMTP password (never stored in the repository).")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="SMTP security: STARTTLS after connecting, TLS from the start, or none."
    )
    smtp_from: str = Field("callcenter@localhost", description="From address of e-mails to customers.")
    sms_gateway_kind: Literal["log", "http"] = Field(
        "log", description="SMS gateway: log (written to the log only, the demo) or http (CC_SMS_GATEWAY_URL)."
    )
    sms_gateway_url: str = Field("", description="HTTP SMS gateway: messages are POSTed here as JSON.")
    sms_gateway_key: str = Field("", description="HTTP SMS gateway key, sent as a bearer token (no default).")
    sms_gateway_report_secret: str = Field(
        "",
        description="Shared secret the SMS gateway sends (X-Gateway-Secret) with its delivery reports to "
        "POST /api/messaging/gateway/reports; empty = reports are refused (no default).",
    )
    messaging_send_timeout_s: float = Field(30.0, description="One SMTP or gateway send fails after this.")
    messaging_max_attempts: int = Field(3, description="A message failing for a passing reason is tried this often.")
    messaging_retry_s: float = Field(60.0, description="Wait before the next try, times the tries so far.")
    messaging_poll_s: float = Field(5.0, description="How often serve looks for queued messages to send.")
    # --- end messaging ---

    # --- outbound: campaign dialer and callbacks (owned by cti/dialer, crm_core/services/outbound.py) ---
    dialer_enabled: bool = Field(True, description="serve runs the campaign dialer (running campaigns dial).")
    dialer_tick_s: float = Field(1.0, description="How often the dialer paces each running campaign.")
    dialer_callee_context: str = Field(
        "dialer-callee", description="Dialplan context the customer's leg is dialled in (Local/<number>@it/n)."
    )
    dialer_connect_context: str = Field(
        "dialer-connect", description="Dialplan context an answered customer continues in (exten = the queue)."
    )
    dialer_drop_s: float = Field(
        2.0, description="An answered campaign call with no agent within this many seconds is dropped."
    )
    dialer_ring_timeout_s: float = Field(25.0, description="How long a campaign call rings before no answer.")
    callback_missed_after_s: int = Field(
        900, description="A callback not made this many seconds after its time is reported as missed."
    )
    callback_queue: str = Field("support", description="The queue whose agents make the IVR's callback requests.")
    # --- end outbound ---

    # --- demo ----------------------------------------------------------------------------------------
    sim_host: str = Field("127.0.0.1", description="Address the built-in PBX simulator listens on.")
    sim_port: int = Field(15038, description="AMI port of the built-in PBX simulator.")
    sim_calls_per_minute: float = Field(12.0, description="Demo traffic: inbound calls per minute.")
    # --- PBX simulator (cti/simulator) ---
    sim_speed: float = Field(
        1.0, description="PBX simulator time factor: 2.0 plays the recorded call timings twice as fast."
    )
    sim_timestamps: bool = Field(
        True, description="PBX simulator adds the Timestamp header to events (timestampevents=yes)."
    )
    # --- end PBX simulator ---
    demo_customers: int = Field(3000, description="Customers seeded into an empty demo database.")
    demo_agents: int = Field(6, description="Demo agents (extensions 1001 and up) logged in to the queues.")
    demo_pbx: Literal["simulator", "asterisk"] = Field(
        "simulator",
        description="PBX of `callcenter demo`: the built-in simulator, or the real Asterisk of asterisk-dev "
        "(started with asterisk-dev/rootfs.sh up, needs root).",
    )
    asterisk_instance: str = Field(
        "dev", description="asterisk-dev/rootfs.sh instance `demo --pbx asterisk` starts or joins (as `make test`)."
    )
    asterisk_port_offset: int = Field(
        0, description="asterisk-dev/rootfs.sh: added to every port of that instance (a second instance beside it)."
    )
    demo_max_calls: int = Field(12, description="Demo on a real PBX: at most this many simulated callers at once.")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'callcenter.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

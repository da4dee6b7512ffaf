//! Command-line flags, as parsed by clap. Validation into typed requests happens in the command
//! modules, so that every rule lives in one place (hush-core) and messages stay consistent.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  other error
  2  usage: bad flags, arguments or input (bad key name, empty or oversize value, ...)
  3  not found
  4  conflict: the key exists, --if-version is stale, the secret is in use, the store exists
  5  forbidden or revoked
  6  expired

Environment:
  HUSH_HOME         where the embedded store lives (default: ~/.local/share/hush)
  HUSH_DB           the store to use instead: a SQLite path or postgres://user@host/db (--db)
  HUSH_PG_POOL      PostgreSQL connections per process (default 16)
  HUSH_PG_TIMEOUT_MS  PostgreSQL connect, statement and lock timeout (default 5000)
  HUSH_WORKSPACE    workspace to use (default: default)
  HUSH_PASSPHRASE   derive the root key from this passphrase (Argon2id) instead of a key file
  HUSH_ROOT_KEY     the root key itself, base64 of 32 bytes, instead of a key file
  HUSH_KEY_FILE     path of the root key file (default: $HUSH_HOME/root.key)
  HUSH_ADDR         a server to talk to instead of the embedded store (with HUSH_TOKEN)
  HUSH_TOKEN        the API token for HUSH_ADDR (never printed)
  HUSH_TIMEOUT_MS   how long a call to the server may take (default 30000; connecting: 5000 at most)
  HUSH_CACERT       a PEM bundle of CA certificates to trust besides the system's (--cacert)
  HUSH_CONFIG       where `hush login` keeps the server and token (default: ~/.config/hush/config.json)
  HUSH_LISTEN       `hush server`'s address (default 127.0.0.1:8270; --listen)
  HUSH_LOG          log filter of `hush server`, as RUST_LOG (default: info)
  HUSH_LOG_FORMAT   `json`: `hush server` logs one JSON object per line (default: text)
  HUSH_AUDIT_FILE   `hush server` appends every audit row to this file as a JSON line (--audit-file)
  HUSH_SECRET_PREFIX  `hush run`/`check`: env vars <prefix><KEY> give local values (default HUSH_SECRET_)
  HUSH_SECRETS_FILE `hush run`/`check`: the dotenv file of local values (default ./.secrets)
  HUSH_SQLITE_BUSY_TIMEOUT_MS  how long a SQLite write waits for another process's lock (default 10000)";

/// hush: a secrets manager for workloads.
///
/// Generic over its subcommands so that `hush run`, which every workload start pays for, can
/// be parsed with [`RunOnly`] instead of building every other command's arguments first (clap
/// builds the whole tree before it parses: a tenth of a `hush run`'s time). [`Cli::parse_args`]
/// chooses; both give the same `hush run` (a test compares their help and their parse).
#[derive(Debug, Parser)]
#[command(name = "hush", version = hush_server::VERSION, about, after_help = EXIT_CODES)]
pub struct Cli<C: Subcommand = Command> {
    /// Workspace to work in.
    #[arg(
        long,
        global = true,
        env = "HUSH_WORKSPACE",
        default_value = "default",
        value_name = "W"
    )]
    pub workspace: String,

    /// The store to work on directly, as an operator on its host: a SQLite file, or a
    /// PostgreSQL database (postgres://user@host:5432/db) shared by several `hush server`
    /// nodes. Default: the embedded store in HUSH_HOME. Takes precedence over HUSH_ADDR.
    #[arg(long, global = true, env = "HUSH_DB", value_name = "PATH-OR-URL")]
    pub db: Option<String>,

    /// A PEM bundle of CA certificates (one or several) to trust for an https:// server
    /// (HUSH_ADDR, `hush login`) besides the system's trust store: for a server whose
    /// certificate comes from a private CA.
    #[arg(long, global = true, env = "HUSH_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    #[command(subcommand)]
    pub command: C,
}

/// The one subcommand of the fast path: `hush run`, exactly as in [`Command`].
#[derive(Debug, Subcommand)]
pub enum RunOnly {
    #[command(about = RUN_ABOUT, long_about = None, after_help = RUN_HELP)]
    Run(RunArgs),
}

impl Cli {
    /// Parses the process's arguments, through [`RunOnly`] when the subcommand is `run`.
    pub fn parse_args() -> Self {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if !is_run(&args) {
            return Cli::parse_from(args);
        }
        let fast = Cli::<RunOnly>::parse_from(args);
        let RunOnly::Run(run) = fast.command;
        Cli {
            workspace: fast.workspace,
            db: fast.db,
            cacert: fast.cacert,
            command: Command::Run(run),
        }
    }
}

/// Whether the first argument that is not a global option (with its value) is `run`.
fn is_run(args: &[std::ffi::OsString]) -> bool {
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        let Some(a) = a.to_str() else { return false };
        match a {
            "--workspace" | "--db" | "--cacert" => {
                rest.next();
            }
            _ if ["--workspace=", "--db=", "--cacert="]
                .iter()
                .any(|p| a.starts_with(p)) => {}
            _ => return a == "run",
        }
    }
    false
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Create the store and its root key: the embedded store in HUSH_HOME, or the --db one.
    #[command(after_help = EXIT_CODES)]
    Init,
    /// Serve the HTTP API and the web UI (at /ui). On a fresh store it initialises itself and
    /// prints a first admin token once.
    #[command(after_help = EXIT_CODES)]
    Server(ServerArgs),
    /// Save a server address and token (checked first) so commands go to that server.
    #[command(after_help = EXIT_CODES)]
    Login(LoginArgs),
    /// Create, read, update, revoke and delete secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Manage the key hierarchy.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Read and verify the audit log.
    #[command(after_help = EXIT_CODES)]
    Audit(AuditArgs),
    /// Follow the changes to the secrets you may see (created, updated, revoked, restored,
    /// deleted, expiring, expired, fallback), one line each, until interrupted. Never a value.
    #[command(after_help = EXIT_CODES)]
    Events(EventsArgs),
    #[command(about = RUN_ABOUT, long_about = None, after_help = RUN_HELP)]
    Run(RunArgs),
    /// Preflight: for each secret a manifest declares, its status and which source would supply
    /// it (never the value).
    #[command(after_help = RUN_HELP)]
    Check(CheckArgs),
    /// Register apps' manifests (the secrets they name are then in use), list, show, delete.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Who commands act as: the token's name, role, app, environment, workspace and expiry
    /// (against a server), or the local user on the embedded store.
    #[command(after_help = EXIT_CODES)]
    Whoami(WhoamiArgs),
    /// Forget the server and token `hush login` saved (HUSH_ADDR/HUSH_TOKEN are not touched).
    #[command(after_help = EXIT_CODES)]
    Logout,
    /// Print a shell completion script: `hush completions bash > /etc/bash_completion.d/hush`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into --dir.
    Man(ManArgs),
    /// A consistent copy of the embedded store into FILE (SQLite's online backup API), also
    /// while a server runs. The root key is not in it: back up the key file separately. On
    /// PostgreSQL use pg_dump.
    #[command(after_help = EXIT_CODES)]
    Backup(BackupArgs),
    /// Replace the embedded store with a copy made by `hush backup`; refuses to overwrite an
    /// existing store without --force.
    #[command(after_help = EXIT_CODES)]
    Restore(RestoreArgs),
    /// Copy the store (--db / HUSH_DB, else the embedded one) into an empty store: a SQLite
    /// file to PostgreSQL or back. Every row as stored: values stay sealed, the audit chain
    /// verifies on the copy, the same root key opens it. The source is only read.
    #[command(after_help = EXIT_CODES)]
    Migrate(MigrateArgs),
    /// Register endpoints that get change events POSTed, signed (admin); list, remove them,
    /// and see each delivery's outcome.
    #[command(subcommand)]
    Webhooks(crate::webhooks::WebhooksCommand),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file to write (it must not exist).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A copy made by `hush backup`.
    pub file: PathBuf,
    /// Overwrite the existing store (every change since the backup is lost).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store to copy into: a postgres://user@host:5432/db URL or a SQLite file path (a
    /// new file is created). It must hold no row; the copy is one transaction.
    #[arg(long, value_name = "URL-OR-PATH")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write hush.1 and a page per command (hush-secrets-set.1, …) into this directory
    /// instead of printing hush.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `hush run`'s line in the help (shared by [`Command`] and [`RunOnly`]).
pub const RUN_ABOUT: &str = "Run a command with exactly the secrets it declares (hush.toml, \
                             --secret, --file), its output masked";

pub const RUN_HELP: &str = "\
Sources, first match wins, for each declaration (KEY the secret's key, VAR the variable the
command sees; prefix: --prefix, HUSH_SECRET_PREFIX, default HUSH_SECRET_):
  1. the env var <prefix><KEY>, then <prefix><VAR>
  2. the .secrets file in the working directory, or --secrets-file FILE (dotenv syntax, values
     literal: $ is never expanded): the line for KEY, then the line for VAR
  3. the store: the server when HUSH_ADDR is set (one /v1/resolve call), else the local store
  4. only with --inherit-env (or inherit = true in the manifest): VAR itself, when it is set
     in hush's environment
A key that is missing, revoked or expired moves on to the declaration's fallbacks (each
looked up the same way). hush check shows which source supplied each declaration; a refusal
lists every place looked at.

The command gets the declared secrets (env vars; files in HUSH_SECRETS_DIR, mode 0600 in a
0700 directory removed when it ends), HUSH_SECRETS_MAP for the SDK, and none of hush's own
HUSH_* variables (HUSH_TOKEN, HUSH_CONFIG, HUSH_HOME, HUSH_DB, HUSH_ADDR, the keys, ...) but
HUSH_APP, HUSH_ENV, HUSH_WORKSPACE, HUSH_LOG and HUSH_SECRET_PREFIX, nor the <prefix>*
variables. It is killed (SIGKILL) if hush dies.

Exit codes:
  the command's own exit code; 128+N when it is killed by signal N
  125  not started: a required secret is missing, revoked, expired or out of scope
       (hush check: a required secret is not ok)
  126  the command cannot be executed
  127  the command was not found
  2    usage: bad flags or a bad manifest (the message names the line)";

/// Where secrets may come from before the store.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Prefix of env vars that supply secrets: PREFIX+KEY (as mini-loader's ML_S_ or
    /// ToolJump's INTEGRATION_).
    #[arg(
        long,
        value_name = "P",
        env = "HUSH_SECRET_PREFIX",
        default_value = "HUSH_SECRET_"
    )]
    pub prefix: String,
    /// A dotenv file of KEY=value lines to use instead of ./.secrets.
    #[arg(long, value_name = "FILE", env = "HUSH_SECRETS_FILE")]
    pub secrets_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The manifest (default: ./hush.toml when present).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The app whose scope rules apply (default: the manifest's).
    #[arg(long, value_name = "A")]
    pub app: Option<String>,
    /// The environment (default: the manifest's).
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// Inject secret KEY as env var NAME (default: KEY). Repeatable.
    #[arg(long, value_name = "KEY[=NAME]")]
    pub secret: Vec<String>,
    /// Deliver secret KEY as a file whose path is in env var NAME (default: KEY). Repeatable.
    #[arg(long, value_name = "KEY[=NAME]")]
    pub file: Vec<String>,
    #[command(flatten)]
    pub sources: SourceArgs,
    /// For local runs: a declared variable already set in hush's environment (e.g. an
    /// AUTH_SECRET exported in the shell) supplies its secret when no other source has it.
    /// Also `inherit = true` in the manifest.
    #[arg(long)]
    pub inherit_env: bool,
    /// Hand the terminal straight to the command: its output is not masked.
    #[arg(long)]
    pub no_mask: bool,
    /// Against a server: the oldest fallback snapshot to use when the server cannot be
    /// reached, answers 5xx or times out (`30m`, `24h`, `7d`).
    #[arg(long, value_name = "AGE", default_value = "24h")]
    pub fallback_max_age: String,
    /// Against a server: neither use nor keep a fallback snapshot.
    #[arg(long)]
    pub no_fallback: bool,
    /// Keep watching the delivered secrets: when one changes (a new version, a revocation, an
    /// expiry, a switch to a fallback), resolve again and apply --on-change.
    #[arg(long)]
    pub watch: bool,
    /// With --watch, what a change does: `restart` (SIGTERM, SIGKILL after --grace, start
    /// again), `signal:NAME` (rewrite secret files in place, then send SIGNAME; a changed env
    /// var restarts) or `exit`.
    #[arg(
        long,
        value_name = "MODE",
        default_value = "restart",
        requires = "watch"
    )]
    pub on_change: String,
    /// With --watch: how long a stopped command gets between SIGTERM and SIGKILL (`10s`, `1m`).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        requires = "watch"
    )]
    pub grace: String,
    /// With --watch, a required secret that becomes unavailable with no fallback: `keep` the
    /// command running with its old value (warning once a minute), or `stop` it (exit 125).
    #[arg(
        long,
        value_name = "keep|stop",
        default_value = "keep",
        requires = "watch"
    )]
    pub on_loss: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The manifest (default: ./hush.toml).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The app whose scope rules apply (default: the manifest's).
    #[arg(long, value_name = "A")]
    pub app: Option<String>,
    /// The environment (default: the manifest's).
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// Check secret KEY as env var NAME (default: KEY), as `hush run --secret`. Repeatable.
    #[arg(long, value_name = "KEY[=NAME]")]
    pub secret: Vec<String>,
    /// Check secret KEY delivered as a file, as `hush run --file`. Repeatable.
    #[arg(long, value_name = "KEY[=NAME]")]
    pub file: Vec<String>,
    #[command(flatten)]
    pub sources: SourceArgs,
    /// As `hush run --inherit-env`: a declared variable already set in hush's environment
    /// supplies its secret when no other source has it.
    #[arg(long)]
    pub inherit_env: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an app's manifest (default: ./hush.toml), or replace it.
    #[command(after_help = EXIT_CODES)]
    Register(AppRegisterArgs),
    /// List registered apps.
    #[command(after_help = EXIT_CODES)]
    List(OutputArgs),
    /// Show a registered app: its declared secrets and when it last read each.
    #[command(after_help = EXIT_CODES)]
    Show(AppNameArgs),
    /// Unregister an app: the secrets it named are no longer in use by it.
    #[command(after_help = EXIT_CODES)]
    Delete(AppNameArgs),
}

#[derive(Debug, Args)]
pub struct AppRegisterArgs {
    /// The manifest file.
    #[arg(value_name = "MANIFEST")]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct AppNameArgs {
    /// The app.
    pub app: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, e.g. http://127.0.0.1:8270. The token comes from HUSH_TOKEN, a hidden
    /// prompt, or standard input.
    pub addr: String,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8270",
        env = "HUSH_LISTEN"
    )]
    pub listen: String,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Most connections served at once; further clients wait in the kernel's queue until one
    /// closes. Default: 1024, or less when the open-file limit is lower (that limit minus 64).
    #[arg(
        long,
        value_name = "N",
        env = "HUSH_MAX_CONNECTIONS",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: Option<u32>,
    /// A load balancer or proxy (CIDR or address) trusted to name the client in
    /// X-Forwarded-For: requests from it are throttled and audited under that client's
    /// address. Repeatable; the env var takes a comma-separated list.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "HUSH_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// On SIGTERM or SIGINT: how long requests in flight may take to finish (seconds) before
    /// the server exits anyway. /readyz answers 503 and no connection is accepted meanwhile.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        env = "HUSH_DRAIN_TIMEOUT",
        value_parser = clap::value_parser!(u64).range(0..=3600)
    )]
    pub drain_timeout: u64,
    /// Also append every audit row, one JSON line as `hush audit export` prints it, to FILE
    /// (created with mode 0600), before the request is answered. When it cannot be written,
    /// audited requests (reads too) answer 503 until it can.
    #[arg(long, value_name = "FILE", env = "HUSH_AUDIT_FILE")]
    pub audit_file: Option<std::path::PathBuf>,
}

fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| "expected a CIDR block (10.0.0.0/8, fd00::/8) or an IP address".to_string())
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token; prints the token alone on stdout (details on stderr), once.
    #[command(after_help = EXIT_CODES)]
    Create(TokenCreateArgs),
    /// List tokens (never the tokens themselves).
    #[command(after_help = EXIT_CODES)]
    List(OutputArgs),
    /// Revoke a token by id or name.
    #[command(after_help = EXIT_CODES)]
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Write,
    Read,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// admin: everything; write: secrets read and write; read: list and read values.
    #[arg(long, value_name = "ROLE", required_unless_present = "app", conflicts_with_all = ["app", "env"])]
    pub role: Option<RoleArg>,
    /// Machine token: the app it works for (with --env).
    #[arg(long, value_name = "APP", requires = "env")]
    pub app: Option<String>,
    /// Machine token: the environment it runs in (with --app).
    #[arg(long, value_name = "ENV", requires = "app")]
    pub env: Option<String>,
    /// A name to recognise it by (default: the role, or APP-ENV).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Expiry: RFC 3339, unix seconds, a duration from now (90d, 12h), or `never`.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    #[command(flatten)]
    pub out: ReportArgs,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (tok_…) or name.
    pub id: String,
}

/// `-o/--output` of a command that prints an answer: a table unless asked for JSON.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// table (for people) or json (for scripts).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        default_value = "table"
    )]
    pub output: TableOrJson,
}

/// `-o/--output` of a command that changes something: nothing is printed on success unless a
/// format is asked for (a new token alone is printed by default).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// table or json: print the resulting record (a new token's record holds the token).
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    pub output: Option<TableOrJson>,
}

/// `-o/--output` of `hush secrets get`: the value's bytes unless asked for JSON.
#[derive(Debug, Args)]
pub struct ValueOutputArgs {
    /// raw: exactly the value bytes; json: metadata with `value` (or `value_base64`).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        default_value = "raw"
    )]
    pub output: RawOrJson,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only rows about this key.
    #[arg(long, value_name = "K")]
    pub key: Option<String>,
    /// Only rows by this actor (token id or name).
    #[arg(long, value_name = "A")]
    pub actor: Option<String>,
    /// Only rows since WHEN (RFC 3339 or unix seconds).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most N rows (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events about this key (repeatable).
    #[arg(long, value_name = "K")]
    pub key: Vec<String>,
    /// Start after event ID (an `id` printed by `-o json`), replaying what happened since;
    /// without it, from now on.
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the keyed chain (every row's MAC and link): exit 0 when intact, 1 naming the
    /// first bad row. With --head, also that a head recorded earlier is still there unchanged,
    /// so rows cut off the end are found.
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Print the newest row's sequence number and MAC as SEQ:MAC, to keep somewhere the
    /// store's writers cannot reach and give back to `hush audit verify --head`.
    #[command(after_help = EXIT_CODES)]
    Head(OutputArgs),
    /// Write the audit rows as JSON lines on stdout, oldest first, for a SIEM (each line is
    /// the row as `-o json` shows it, with its sequence number and MAC).
    #[command(after_help = EXIT_CODES)]
    Export(ExportArgs),
    /// Remove the rows written before WHEN (retention), keeping a checkpoint — the last
    /// removed row's sequence number and MAC — from which `hush audit verify` proves the rest.
    /// An `audit.prune` row records it. Refused for a WHEN in the future and for a chain that
    /// does not verify; against a server, only an admin of workspace `default` may prune.
    #[command(after_help = EXIT_CODES)]
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Rows written before WHEN go: RFC 3339, unix seconds, or a duration before now (90d:
    /// the rows older than 90 days).
    #[arg(long, value_name = "WHEN")]
    pub before: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only rows since WHEN (RFC 3339 or unix seconds).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only rows until WHEN (RFC 3339 or unix seconds).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A head printed earlier by `hush audit head`: SEQ:MAC.
    #[arg(long, value_name = "SEQ:MAC", conflicts_with = "head_file")]
    pub head: Option<String>,
    /// A file holding such a head (as `hush audit head` prints it, or its `-o json`).
    #[arg(long, value_name = "PATH")]
    pub head_file: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// New root key version; every data key is rewrapped; every value stays readable.
    ///
    /// With a key file, the new key is written to it. With HUSH_PASSPHRASE, the new passphrase
    /// is HUSH_NEW_PASSPHRASE (the same passphrase with a new salt when unset). With
    /// HUSH_ROOT_KEY, the new key is HUSH_NEW_ROOT_KEY, or a generated one printed on stdout.
    #[command(after_help = EXIT_CODES)]
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create or replace a secret.
    #[command(after_help = EXIT_CODES)]
    Set(WriteArgs),
    /// Create a secret; exits 4 if the key exists.
    #[command(after_help = EXIT_CODES)]
    Create(WriteArgs),
    /// Change a secret's value and/or metadata. The value is read (prompt or stdin) when a
    /// value flag is given or when no metadata flag is given.
    #[command(after_help = EXIT_CODES)]
    Update(UpdateArgs),
    /// Print a secret's value (raw: exactly its bytes).
    #[command(after_help = EXIT_CODES)]
    Get(GetArgs),
    /// Show a secret's metadata, never its value.
    #[command(after_help = EXIT_CODES)]
    Show(ShowArgs),
    /// List secrets (metadata only).
    #[command(after_help = EXIT_CODES, visible_alias = "ls")]
    List(ListArgs),
    /// List a secret's versions (no values), with the environment of each.
    #[command(after_help = EXIT_CODES)]
    History(HistoryArgs),
    /// Make version N's value current again, as a new version.
    #[command(after_help = EXIT_CODES)]
    Rollback(RollbackArgs),
    /// Disable a secret without deleting it.
    #[command(after_help = EXIT_CODES)]
    Revoke(StatusArgs),
    /// Undo revoke.
    #[command(after_help = EXIT_CODES)]
    Restore(StatusArgs),
    /// Delete a secret and all its versions (with --env E: only E's own value).
    #[command(after_help = EXIT_CODES, visible_alias = "rm")]
    Delete(DeleteArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableOrJson {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RawOrJson {
    Raw,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    Api,
    Access,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Served (takes in `expiring`).
    Active,
    /// Served, and within its warning window before its expiry.
    Expiring,
    Revoked,
    Expired,
}

#[derive(Debug, Args)]
pub struct ValueSource {
    /// Read the value from FILE, byte for byte, always exact (a JSON key file, a certificate).
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with_all = ["stdin", "raw"])]
    pub from_file: Option<PathBuf>,
    /// Read the value from standard input. Piped input loses one trailing newline (\n or
    /// \r\n, as `echo` adds); --raw keeps it. This is also what happens with no value flag
    /// when standard input is not a terminal.
    #[arg(long)]
    pub stdin: bool,
    /// Keep standard input's bytes exactly, trailing newline included.
    #[arg(long)]
    pub raw: bool,
}

impl ValueSource {
    pub fn given(&self) -> bool {
        self.from_file.is_some() || self.stdin || self.raw
    }
}

#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Human-readable description.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Kind of token held.
    #[arg(long = "type", value_name = "TYPE")]
    pub token_type: Option<TypeArg>,
    /// An app allowed to read it (repeatable; none: every app).
    #[arg(long, value_name = "APP", conflicts_with = "clear_scope")]
    pub scope: Vec<String>,
    /// The environments it is available in, comma-separated or repeated (none: every
    /// environment). Not the value's environment: that is --env.
    #[arg(
        long,
        value_name = "ENV,…",
        value_delimiter = ',',
        conflicts_with = "clear_envs"
    )]
    pub envs: Vec<String>,
    /// Remove every scope restriction.
    #[arg(long)]
    pub clear_scope: bool,
    /// Remove every environment restriction.
    #[arg(long)]
    pub clear_envs: bool,
    /// Expiry: RFC 3339, unix seconds, a duration from now (90d, 12h, 30m), or `never`.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// How long before its expiry the secret is `expiring` and reads of it warn: a duration
    /// (30d, 12h) or seconds; 0 never warns (default: 14d).
    #[arg(long, value_name = "SPAN")]
    pub notify_before: Option<String>,
    /// Accept an --expires in the past: write the secret already expired, on purpose.
    #[arg(long)]
    pub allow_past: bool,
    /// What the value must be: json refuses one that does not parse (exit 2, nothing
    /// written); text (the default) takes any bytes.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
}

impl MetadataArgs {
    pub fn given(&self) -> bool {
        self.description.is_some()
            || self.token_type.is_some()
            || !self.scope.is_empty()
            || !self.envs.is_empty()
            || self.clear_scope
            || self.clear_envs
            || self.expires.is_some()
            || self.notify_before.is_some()
    }
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The secret's key: 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -).
    pub key: String,
    /// Catches a value typed on the command line, to refuse it without echoing it.
    #[arg(hide = true, value_name = "NO-VALUE-HERE")]
    pub stray: Vec<String>,
    /// Write environment E's own value, leaving the shared value and other environments'
    /// untouched (reads in E get it; other environments keep the shared value).
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    #[command(flatten)]
    pub value: ValueSource,
    #[command(flatten)]
    pub meta: MetadataArgs,
    #[command(flatten)]
    pub out: ReportArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Only update if the current version is N (of --env's own value when given; else exit
    /// 4, nothing written).
    #[arg(long, value_name = "N")]
    pub if_version: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The secret's key.
    pub key: String,
    /// Read as environment E does: its own value, else the shared value.
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// Read this version instead of the current one (of the value --env reads).
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    #[command(flatten)]
    pub out: ValueOutputArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The secret's key.
    pub key: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The secret's key.
    pub key: String,
    /// Only the versions of environment E's own value (default: every value's).
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only secrets available in this environment.
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// Only secrets this app may read.
    #[arg(long, value_name = "A")]
    pub app: Option<String>,
    /// Only keys starting with P.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Only secrets with this status.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<StatusArg>,
    /// Only secrets still served that expire within SPAN (7d, 12h, or seconds), whatever
    /// their own warning window.
    #[arg(long, value_name = "SPAN")]
    pub expiring: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The secret's key.
    pub key: String,
    /// Roll back environment E's own value (default: the shared value).
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// The version whose value becomes current again.
    #[arg(long, value_name = "N")]
    pub to: u64,
    #[command(flatten)]
    pub out: ReportArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The secret's key.
    pub key: String,
    #[command(flatten)]
    pub out: ReportArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The secret's key.
    pub key: String,
    /// Delete only environment E's own value (every version of it); the secret, its shared
    /// value and other environments' values stay, and reads in E get the shared value again.
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// Delete even while apps use it.
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    /// Every argument of every command says what it is (`--help` never shows a bare name).
    #[test]
    fn every_argument_has_a_description() {
        use clap::CommandFactory as _;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(
            &super::Cli::<super::Command>::command(),
            "hush",
            &mut missing,
        );
        assert!(
            missing.is_empty(),
            "arguments without a description: {missing:?}"
        );
    }
    #[test]
    fn root_help_names_every_environment_variable_hush_reads() {
        use clap::CommandFactory as _;
        let help = super::Cli::<super::Command>::command()
            .render_long_help()
            .to_string();
        for var in [
            "HUSH_HOME",
            "HUSH_DB",
            "HUSH_ADDR",
            "HUSH_TOKEN",
            "HUSH_LISTEN",
            "HUSH_LOG",
            "HUSH_SECRET_PREFIX",
            "HUSH_SECRETS_FILE",
            "HUSH_SQLITE_BUSY_TIMEOUT_MS",
            "HUSH_AUDIT_FILE",
        ] {
            assert!(help.contains(var), "{var} is missing from `hush --help`");
        }
    }

    #[test]
    fn every_key_argument_is_described() {
        use clap::CommandFactory as _;
        let mut cli = super::Cli::<super::Command>::command();
        let secrets = cli.find_subcommand_mut("secrets").unwrap();
        for sub in secrets.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            if let Some(key) = sub.get_arguments().find(|a| a.get_id() == "key") {
                assert!(
                    key.get_help().is_some(),
                    "`hush secrets {name}` has a KEY without a description"
                );
            }
        }
    }

    /// `hush run` parsed on its own gives what the whole tree gives: the same help, the same
    /// parse, the same refusals; anything else is not taken for `run`.
    #[test]
    fn run_parsed_alone_is_run_parsed_in_the_whole_tree() {
        use clap::{CommandFactory as _, Parser as _};
        let help = |mut c: clap::Command| {
            c.build();
            let run = c.find_subcommand_mut("run").unwrap();
            (
                run.render_long_help().to_string(),
                run.render_usage().to_string(),
            )
        };
        assert_eq!(
            help(super::Cli::<super::Command>::command()),
            help(super::Cli::<super::RunOnly>::command())
        );
        let cases: &[&[&str]] = &[
            &["hush", "run", "--", "true"],
            &[
                "hush",
                "--workspace",
                "w",
                "run",
                "--secret",
                "A=a",
                "--",
                "env",
            ],
            &[
                "hush",
                "--db=x.db",
                "run",
                "--no-mask",
                "--",
                "sh",
                "-c",
                "echo",
            ],
            &["hush", "run", "--workspace", "late", "--", "true"],
            &["hush", "run", "--bogus", "--", "true"],
            &["hush", "run"],
        ];
        for args in cases {
            assert!(super::is_run(&os(args)), "{args:?}");
            let whole = super::Cli::<super::Command>::try_parse_from(*args);
            let alone = super::Cli::<super::RunOnly>::try_parse_from(*args).map(|c| {
                let super::RunOnly::Run(run) = c.command;
                super::Cli {
                    workspace: c.workspace,
                    db: c.db,
                    cacert: c.cacert,
                    command: super::Command::Run(run),
                }
            });
            match (whole, alone) {
                (Ok(w), Ok(a)) => assert_eq!(format!("{w:?}"), format!("{a:?}"), "{args:?}"),
                (Err(w), Err(a)) => {
                    assert_eq!(w.kind(), a.kind(), "{args:?}");
                    assert_eq!(w.to_string(), a.to_string(), "{args:?}");
                }
                (w, a) => panic!("{args:?}: whole {w:?}, alone {a:?}"),
            }
        }
        for args in [
            &["hush"][..],
            &["hush", "--help"],
            &["hush", "--workspace", "run", "check"],
            &["hush", "check", "run"],
            &["hush", "--version"],
        ] {
            assert!(!super::is_run(&os(args)), "{args:?}");
        }
        fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
            args.iter().map(Into::into).collect()
        }
    }

    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory as _;
        super::Cli::<super::Command>::command().debug_assert();
    }
}

//! The `shelf` command line: serve a folder, and the `check`, `init`, `hash-password`,
//! `completions` and `man` commands. The definitions below are the one source of `--help`, the
//! shell completions and the man page.

use std::io::{IsTerminal, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use shelf::config::{ConfigError, Overrides, overrides};
use shelf::server::{Handle, Server};
use signal_hook::consts::{SIGINT, SIGTERM};

const EXAMPLES: &str = "\
Examples:
  shelf                                  serve this folder on http://127.0.0.1:8080
  shelf ~/Downloads -p 9000              serve another folder on another port
  shelf -b 0.0.0.0 --upload --auth alice:secret
                                         share with the network; alice may upload
  shelf --tls --hidden                   HTTPS (self-signed), dot-files shown
  shelf --config /etc/shelf/config.toml  run as a service; edits apply while it runs
  shelf init                             write a commented config.toml here
  shelf check                            validate ./config.toml

Flags win over the config file, which wins over the defaults, at start and on every reload.
Without a config file (./config.toml, or --config) shelf runs on defaults and flags.";

/// Serve a folder over HTTP/1.1 and HTTPS.
#[derive(Parser)]
#[command(name = "shelf", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// What the command line asks of the server; each flag applies over the config file.
#[derive(clap::Args)]
struct ServeArgs {
    /// Folder to serve [default: the config file's root, or . without a config file]
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Same as DIR
    #[arg(long, value_name = "DIR", conflicts_with = "dir", hide = true)]
    root: Option<PathBuf>,
    /// Config file; without one, ./config.toml is used when it exists
    #[arg(short, long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// Port to listen on [default: the config file's, or 8080]
    #[arg(short, long)]
    port: Option<u16>,
    /// Address to listen on, e.g. 0.0.0.0 for every interface (repeat for several)
    #[arg(short, long = "bind", value_name = "ADDR")]
    bind: Vec<IpAddr>,
    /// Listen on exactly this ADDR:PORT (host names like localhost:8080 allowed; repeatable)
    #[arg(long, value_name = "ADDR:PORT", conflicts_with_all = ["port", "bind"])]
    listen: Vec<String>,
    /// Allow uploads, changes and deletions (PUT, POST, PATCH, DELETE): everywhere, or with
    /// --upload=PATH under PATH only
    #[arg(
        long,
        value_name = "PATH",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "/"
    )]
    upload: Option<String>,
    /// Require this user for every request (Basic auth); the password is hashed in memory
    #[arg(long, value_name = "USER:PASS")]
    auth: Option<String>,
    /// Serve HTTPS instead of HTTP, with a self-signed certificate unless the config names one
    #[arg(long)]
    tls: bool,
    /// Let pages of any origin read responses (CORS)
    #[arg(long)]
    cors: bool,
    /// Answer 403 for folders without an index file instead of listing them
    #[arg(long)]
    no_listing: bool,
    /// Serve dot-files and dot-folders
    #[arg(long)]
    hidden: bool,
    /// Open the first URL in a web browser once serving
    #[arg(long)]
    open: bool,
    /// Log warnings and errors only, and no access log
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Log more (-v debug, -vv trace)
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config file and exit: 0 when valid, 1 with the file, line and key when not
    Check,
    /// Write a commented config.toml (every key at its default) and exit
    Init {
        /// Where to write it [default: ./config.toml]
        path: Option<PathBuf>,
        /// Replace an existing file
        #[arg(long)]
        force: bool,
    },
    /// Print a bcrypt hash of a password, for [users] (asks on a terminal; else reads stdin)
    HashPassword,
    /// Print shell completions
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

fn main() -> ExitCode {
    // First, while the process has one thread: this reads and clears LISTEN_FDS/LISTEN_PID.
    inherit_sockets();
    let cli = Cli::parse();
    let config = cli.serve.config.clone();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Check) => check(config.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG))),
        Some(Command::Init { path, force }) => init(path.as_deref(), force),
        Some(Command::HashPassword) => hash_password(),
        Some(Command::Completions { shell }) => completions(shell),
        Some(Command::Man) => man(),
    }
}

/// Takes the listening sockets a service manager passed (systemd socket activation); each
/// serves the listen address it is bound to.
fn inherit_sockets() {
    let mut passed = listenfd::ListenFd::from_env();
    let sockets: Vec<std::net::TcpListener> = (0..passed.len())
        .filter_map(|i| match passed.take_tcp_listener(i) {
            Ok(socket) => socket,
            Err(e) => {
                eprintln!(
                    "shelf: ignoring socket {} from the service manager: {e}",
                    i + 3
                );
                None
            }
        })
        .collect();
    shelf::server::sockets::inherit(sockets);
}

/// The config file looked for when `--config` is not given.
const DEFAULT_CONFIG: &str = "config.toml";

/// Prints `shelf: message` on stderr and fails.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("shelf: {message}");
    ExitCode::FAILURE
}

fn serve(args: ServeArgs) -> ExitCode {
    let flags = match overrides_from(&args) {
        Ok(flags) => flags,
        Err(message) => return fail(message),
    };
    let file = match config_file(args.config.as_deref()) {
        Ok(file) => file,
        Err(message) => return fail(message),
    };
    let flags = with_default_root(flags, file.as_deref());
    let config = match flags.load(file.as_deref()) {
        Ok(config) => config,
        Err(e) => return fail(explain(e)),
    };
    shelf::log::init(config.log.level);
    if file.is_none() {
        log::info!(
            "no config file ({DEFAULT_CONFIG} not found here): serving with defaults and flags; \
             `shelf init` writes one"
        );
    }
    // Installed before the serving line is printed: a signal sent as soon as that line is read
    // must stop the server gracefully, not kill it with the default action.
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]);
    let started = match &file {
        Some(path) => Server::start_watching(path, flags),
        None => Server::start(config),
    };
    run(started, signals, args.open)
}

/// Prints where the server serves, then waits for SIGINT or SIGTERM.
fn run(
    started: Result<Handle, shelf::server::StartError>,
    signals: std::io::Result<signal_hook::iterator::Signals>,
    open: bool,
) -> ExitCode {
    let handle = match started {
        Ok(handle) => handle,
        Err(e) => return fail(e),
    };
    handle
        .serving_lines()
        .iter()
        .for_each(|line| println!("{line}"));
    for addr in shelf::server::sockets::unclaimed() {
        log::warn!(
            "the service manager passed a socket on {addr}, but no listen address of the \
             configuration names it: nothing serves it (add it to server.listen or tls.listen)"
        );
    }
    if open && let Some(url) = handle.urls().first() {
        open_browser(url);
    }
    stop_on_signal(signals, handle)
}

/// Waits for the first signal, then shuts down gracefully; a second signal exits at once.
fn stop_on_signal(
    signals: std::io::Result<signal_hook::iterator::Signals>,
    handle: Handle,
) -> ExitCode {
    let mut signals = match signals {
        Ok(signals) => signals,
        Err(e) => {
            log::error!("cannot install signal handlers: {e}");
            loop {
                std::thread::park();
            }
        }
    };
    signals.forever().next();
    log::info!("shutting down (a second Ctrl-C stops at once)");
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            log::warn!("second signal: exiting without waiting for running requests");
            std::process::exit(1);
        }
    });
    if !handle.shutdown() {
        log::warn!("shutdown_grace_s passed with requests still running");
    }
    ExitCode::SUCCESS
}

/// The config file to read: `--config` (which must exist), else `./config.toml` when it
/// exists, else none.
fn config_file(given: Option<&Path>) -> Result<Option<PathBuf>, String> {
    match given {
        Some(path) if path.is_file() => Ok(Some(path.to_path_buf())),
        Some(path) => Err(format!(
            "--config {}: no such file; write one with `shelf init {}`, or leave --config out \
             to serve with defaults",
            path.display(),
            path.display()
        )),
        None if Path::new(DEFAULT_CONFIG).is_file() => Ok(Some(PathBuf::from(DEFAULT_CONFIG))),
        None => Ok(None),
    }
}

/// Without a config file and without DIR, the folder served is the current one.
fn with_default_root(mut flags: Overrides, file: Option<&Path>) -> Overrides {
    if file.is_none() && flags.root.is_none() {
        flags.root = std::env::current_dir().ok();
    }
    flags
}

/// The flags as settings over the file's.
fn overrides_from(args: &ServeArgs) -> Result<Overrides, String> {
    Ok(Overrides {
        root: args
            .dir
            .as_ref()
            .or(args.root.as_ref())
            .map(|d| folder(d))
            .transpose()?,
        listen: resolve_all(&args.listen)?,
        bind: args.bind.clone(),
        port: args.port,
        tls: args.tls,
        upload: args.upload.as_deref().map(upload).transpose()?,
        auth: args.auth.as_deref().map(auth).transpose()?,
        cors: args.cors,
        no_listing: args.no_listing,
        hidden: args.hidden,
        log_level: log_level(args.quiet, args.verbose),
    })
}

/// DIR, checked and made absolute.
fn folder(dir: &Path) -> Result<PathBuf, String> {
    let shown = dir.display();
    let absolute = std::fs::canonicalize(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("cannot serve {shown}: no such folder"),
        _ => format!("cannot serve {shown}: {e}"),
    })?;
    if !absolute.is_dir() {
        return Err(format!("cannot serve {shown}: it is a file, not a folder"));
    }
    if absolute.to_str().is_none() {
        return Err(format!("cannot serve {shown}: the path is not valid UTF-8"));
    }
    Ok(absolute)
}

/// `--listen` values, host names resolved once, now.
fn resolve_all(values: &[String]) -> Result<Vec<SocketAddr>, String> {
    let mut all = Vec::new();
    for value in values {
        let found = value.to_socket_addrs().map_err(|e| {
            format!("--listen {value:?}: {e}; write an address and port like 127.0.0.1:8080")
        })?;
        for addr in found {
            if !all.contains(&addr) {
                all.push(addr);
            }
        }
    }
    Ok(all)
}

fn upload(path: &str) -> Result<shelf::config::PathPattern, String> {
    overrides::upload_pattern(path).map_err(|e| format!("--upload {path:?}: {e}"))
}

/// `USER:PASS`, the password hashed here: it is never kept, logged or shown.
fn auth(value: &str) -> Result<(String, String), String> {
    let Some((user, password)) = value.split_once(':') else {
        return Err("--auth needs USER:PASS, e.g. --auth alice:secret".into());
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "._-@".contains(c);
    if user.is_empty() || !user.chars().all(valid) {
        return Err(format!(
            "--auth: the user name {user:?} may only have letters, digits and . _ - @"
        ));
    }
    if password.is_empty() {
        return Err("--auth: the password after the `:` is empty".into());
    }
    // The cheapest cost bcrypt allows: the hash lives in memory only, never on disk.
    let hash = bcrypt::hash(password, 4).map_err(|e| format!("--auth: {e}"))?;
    Ok((user.to_string(), hash))
}

fn log_level(quiet: bool, verbose: u8) -> Option<log::LevelFilter> {
    match (quiet, verbose) {
        (true, _) => Some(log::LevelFilter::Warn),
        (false, 0) => None,
        (false, 1) => Some(log::LevelFilter::Debug),
        (false, _) => Some(log::LevelFilter::Trace),
    }
}

/// A config error, with what to do when the message alone would leave the user guessing.
fn explain(e: ConfigError) -> String {
    let hint = match e.key.as_deref() {
        Some("server.root") => "; serve another folder with `shelf DIR`",
        _ => "",
    };
    format!("{e}{hint}")
}

/// `$BROWSER`, else the desktop's opener; a failure is logged, never fatal.
fn open_browser(url: &str) {
    let opener = std::env::var("BROWSER").ok().filter(|b| !b.is_empty());
    let program = opener.unwrap_or_else(|| match cfg!(target_os = "macos") {
        true => "open".into(),
        false => "xdg-open".into(),
    });
    let spawned = std::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        log::warn!("--open: cannot start {program}: {e}; open {url} yourself");
    }
}

fn check(path: &Path) -> ExitCode {
    match shelf::Config::load(path) {
        Ok(config) if config.problems().is_empty() => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        // Warnings when serving, but a check is asked whether the config does what it says.
        Ok(config) => {
            config.problems().iter().for_each(|p| eprintln!("{p}"));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn init(path: Option<&Path>, force: bool) -> ExitCode {
    let path = path.unwrap_or(Path::new(DEFAULT_CONFIG));
    if path.exists() && !force {
        let shown = path.display();
        return fail(format!(
            "{shown} exists; keep it, or replace it with `shelf init --force`"
        ));
    }
    match std::fs::write(path, shelf::config::init_template()) {
        Ok(()) => {
            println!(
                "wrote {}: every key at its default, root = \".\"",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot write {}: {e}", path.display())),
    }
}

fn hash_password() -> ExitCode {
    let password = match read_password() {
        Ok(password) => password,
        Err(message) => return fail(message),
    };
    match bcrypt::hash(password, bcrypt::DEFAULT_COST) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// On a terminal: asked twice, not echoed. Piped: stdin, one trailing newline stripped.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        return match (first == again, first.is_empty()) {
            (false, _) => Err("the two passwords differ; nothing printed".into()),
            (true, true) => Err("the password is empty; nothing printed".into()),
            (true, false) => Ok(first),
        };
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input);
    Ok(password.to_string())
}

fn completions(shell: clap_complete::Shell) -> ExitCode {
    clap_complete::generate(shell, &mut Cli::command(), "shelf", &mut std::io::stdout());
    ExitCode::SUCCESS
}

fn man() -> ExitCode {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

//! The `shelf` command line: serve, `check`, `hash-password`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use shelf::config::reload::Overrides;
use shelf::server::Server;
use signal_hook::consts::{SIGINT, SIGTERM};

const USAGE: &str = "usage: shelf [--config PATH] [--root DIR] [--listen ADDR:PORT]
       shelf check [--config PATH]
       shelf hash-password    (reads the password on stdin)";

/// What the command line asked for.
enum Command {
    Serve {
        config: PathBuf,
        overrides: Overrides,
    },
    Check {
        config: PathBuf,
    },
    HashPassword,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("shelf: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Serve { config, overrides } => serve(&config, overrides),
        Command::Check { config } => check(&config),
        Command::HashPassword => hash_password(),
    }
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let (check, hash, rest) = match args.first().map(String::as_str) {
        Some("check") => (true, false, &args[1..]),
        Some("hash-password") => (false, true, &args[1..]),
        _ => (false, false, args),
    };
    let mut config = PathBuf::from("config.toml");
    let mut overrides = Overrides::default();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--config" => config = PathBuf::from(value()?),
            "--root" if !check => overrides.root = Some(PathBuf::from(value()?)),
            "--listen" if !check => {
                let v = value()?;
                let addr = v.parse::<SocketAddr>();
                overrides.listen = Some(addr.map_err(|_| format!("--listen: bad address {v:?}"))?);
            }
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(match (check, hash) {
        (true, _) => Command::Check { config },
        (_, true) if rest.is_empty() => Command::HashPassword,
        (_, true) => return Err("hash-password takes no arguments".into()),
        _ => Command::Serve { config, overrides },
    })
}

fn serve(path: &std::path::Path, overrides: Overrides) -> ExitCode {
    let level = match overrides.load(path) {
        Ok(config) => config.log.level,
        Err(e) => {
            eprintln!("shelf: {e}");
            return ExitCode::FAILURE;
        }
    };
    shelf::log::init(level);
    // Installed before the serving line is printed: a signal sent as soon as that line is read
    // must stop the server gracefully, not kill it with the default action.
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]);
    let handle = match Server::start_watching(path, overrides) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("shelf: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_listeners(&handle);
    wait_for_signal(signals);
    log::info!("shutting down");
    if !handle.shutdown() {
        log::warn!("shutdown_grace_s passed with requests still running");
    }
    ExitCode::SUCCESS
}

/// SPEC §1: one line per listener, with the URL it serves.
fn print_listeners(handle: &shelf::Handle) {
    let root = handle.config().server.root.display().to_string();
    if let Some(addr) = handle.local_addr() {
        println!("serving {root} on http://{addr}");
    }
    if let Some(addr) = handle.tls_addr() {
        let note = match handle.tls_fingerprint() {
            Some(f) if handle.tls_self_signed() => {
                format!(" (self-signed certificate, SHA-256 {f})")
            }
            _ => String::new(),
        };
        println!("serving {root} on https://{addr}{note}");
    }
}

fn wait_for_signal(signals: std::io::Result<signal_hook::iterator::Signals>) {
    match signals {
        Ok(mut signals) => {
            signals.forever().next();
        }
        Err(e) => {
            log::error!("cannot install signal handlers: {e}");
            loop {
                std::thread::park();
            }
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match shelf::Config::load(path) {
        Ok(_) => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("shelf: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input);
    match bcrypt::hash(password, bcrypt::DEFAULT_COST) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shelf: {e}");
            ExitCode::FAILURE
        }
    }
}

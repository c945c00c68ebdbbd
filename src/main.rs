//! The `chatls` binary: logging set-up, then the language server on stdio or `chatls ask`.

use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

use chatls::cli::{Cli, Command, ask, models, settings_schema};
use chatls::config::EnvSettings;

fn init_logging(log_file: Option<&std::path::Path>) -> Result<(), String> {
    let filter = EnvFilter::try_from_env("CHATLS_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // tower-lsp-server traces every message verbatim, so `CHATLS_LOG=trace` wrote an apiKey
    // sent in the settings to the log; its codec never logs below debug here.
    let filter = match "tower_lsp_server::codec=debug".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| format!("cannot open log file {}: {error}", path.display()))?;
            builder
                .with_writer(std::io::stderr.and(Mutex::new(file)))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

/// stdin as a non-blocking pipe when it is one (editors start servers on pipes): reads run
/// on the runtime's own threads instead of a hand-off to the blocking pool per read, and no
/// blocked reader thread is left to wait for at exit. Anything else (a file, a terminal)
/// is read through tokio's stdin as before.
fn stdin_reader() -> Box<dyn tokio::io::AsyncRead + Unpin + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned()
            && let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
        {
            return Box::new(pipe);
        }
    }
    Box::new(tokio::io::stdin())
}

/// stdout as a non-blocking pipe, like stdin, unless it is the same pipe as stderr (where a
/// non-blocking mode would make a log write fail when the pipe is full).
fn stdout_writer() -> Box<dyn tokio::io::AsyncWrite + Unpin + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let identity = |fd: std::os::fd::BorrowedFd<'_>| {
            let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
            let meta = file.metadata().ok()?;
            Some((meta.dev(), meta.ino()))
        };
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        let shared = match (identity(stdout.as_fd()), identity(stderr.as_fd())) {
            (Some(out), Some(err)) => out == err,
            _ => true,
        };
        if !shared
            && let Ok(fd) = stdout.as_fd().try_clone_to_owned()
            && let Ok(pipe) = tokio::net::unix::pipe::Sender::from_owned_fd(fd)
        {
            return Box::new(pipe);
        }
    }
    Box::new(tokio::io::stdout())
}

fn main() {
    let cli = Cli::parse_args();
    if let Err(message) = init_logging(cli.log_file.as_deref()) {
        eprintln!("chatls: {message}");
        std::process::exit(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chatls: cannot start the async runtime: {error}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Some(Command::Ask(args)) => ask(args).await,
            Some(Command::Models(args)) => models(args).await,
            Some(Command::SettingsSchema(args)) => settings_schema(args),
            Some(Command::Serve(_)) | None => {
                // Served on a worker, not on this thread: the task reading stdin runs on the
                // workers, and a message handed from it to a server polled here would wait
                // for this thread to wake up each time (one thread hand-off per message, the
                // longest part of answering `initialize` on a busy machine).
                let served = tokio::spawn(chatls::lsp::serve(
                    stdin_reader(),
                    stdout_writer(),
                    EnvSettings::from_process(),
                ))
                .await;
                if matches!(served, Ok(true)) { 0 } else { 1 }
            }
        }
    });
    // Background actions may still be streaming; they must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

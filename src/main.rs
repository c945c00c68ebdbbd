//! The `chatls` binary: logging set-up, then the language server on stdio or `chatls ask`.

use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

use chatls::cli::{Cli, Command, ask};
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
            Some(Command::Serve(_)) | None => {
                let clean = chatls::lsp::serve(
                    tokio::io::stdin(),
                    tokio::io::stdout(),
                    EnvSettings::from_process(),
                )
                .await;
                if clean { 0 } else { 1 }
            }
        }
    });
    // Background actions may still be streaming; they must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

//! `fake-upstream [--port N] [--script FILE.json]`: runs the scripted fake upstream as a
//! process for end-to-end tests in other languages. Prints its base URL as the first line of
//! stdout, then serves until killed. The script is a JSON array of replies, or
//! `{"replies": [...], "default": reply}`; more can be queued with `POST /__push`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum Script {
    Replies(Vec<Reply>),
    Full {
        #[serde(default)]
        replies: Vec<Reply>,
        #[serde(default)]
        default: Option<Reply>,
    },
}

const USAGE: &str = "usage: fake-upstream [--port N] [--script FILE.json]";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fake-upstream: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut port = 0u16;
    let mut script_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or(USAGE)?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port needs a number, not {value:?}"))?;
            }
            "--script" => script_path = Some(args.next().ok_or(USAGE)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let (replies, default) = match script_path {
        None => (Vec::new(), None),
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("could not read {path}: {error}"))?;
            match serde_json::from_str::<Script>(&text)
                .map_err(|error| format!("{path} is not a valid script: {error}"))?
            {
                Script::Replies(replies) => (replies, None),
                Script::Full { replies, default } => (replies, default),
            }
        }
    };
    let fake = FakeUpstream::start_on(SocketAddr::from(([127, 0, 0, 1], port)), replies)
        .await
        .map_err(|error| format!("could not listen on 127.0.0.1:{port}: {error}"))?;
    if let Some(default) = default {
        fake.set_default(default);
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", fake.base_url()).map_err(|error| error.to_string())?;
    stdout.flush().map_err(|error| error.to_string())?;
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| format!("could not wait for Ctrl-C: {error}"))?;
    Ok(())
}

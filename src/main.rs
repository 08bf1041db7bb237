//! The `cvo` binary: telemetry → configuration → build → serve until a signal.

use clap::Parser;
use cvo::app::{shutdown_signal, Application};
use cvo::config::{Cli, Command, Config, KeyCommand, LogFormat, ServeArgs};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args: ServeArgs = match cli.command {
        Some(Command::Serve(args)) => merge(args, cli.serve),
        Some(Command::Key(KeyCommand::Hash)) => return print_key_hash(),
        Some(Command::Config(args)) => return print_config(&merge(args, cli.serve)),
        None => cli.serve,
    };
    init_tracing(args.log_format.unwrap_or_default());
    let config = Config::resolve(&args)?;
    let app = Application::build(config).await?;
    app.run_until(shutdown_signal()).await
}

/// Flags given after the subcommand win over the same flags given before it.
fn merge(sub: ServeArgs, top: ServeArgs) -> ServeArgs {
    ServeArgs {
        addr: sub.addr.or(top.addr),
        data_dir: sub.data_dir.or(top.data_dir),
        config: sub.config.or(top.config),
        log_format: sub.log_format.or(top.log_format),
        allow_anonymous: sub.allow_anonymous || top.allow_anonymous,
    }
}

/// `cvo key hash`: reads one key from standard input and prints its SHA-256.
fn print_key_hash() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let key = line.trim_end_matches(['\n', '\r']);
    anyhow::ensure!(!key.is_empty(), "no key on standard input");
    println!("{}", cvo::api::auth::hash_key(key));
    Ok(())
}

/// `cvo config`: the effective configuration, checked, as TOML.
fn print_config(args: &ServeArgs) -> anyhow::Result<()> {
    Config::resolve(args)?;
    let file = Config::effective(args)?;
    print!("{}", toml::to_string(&file)?);
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

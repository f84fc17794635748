use clap::Parser;
use hubsync::cli::{self, Cli};

#[tokio::main]
async fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print in full; a mistake gets one line and a non-zero exit.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let rendered = e.render().to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments")
            );
            std::process::exit(2);
        }
    };
    if let Err(reason) = cli::run(cli).await {
        // `{:#}` puts the causes on the same line: "error: server error: address in use".
        eprintln!("error: {reason:#}");
        std::process::exit(1);
    }
}

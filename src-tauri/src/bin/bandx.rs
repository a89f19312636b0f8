//! `bandx`: the command-line face of BandX Studio, on the same library as the app.
use clap::Parser;

#[derive(Parser)]
#[command(name = "bandx", version, about = "BandX Studio on the command line")]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}

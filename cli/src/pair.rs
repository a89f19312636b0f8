//! `bandx pair` / `bandx unpair`: bond this desktop with a band (the band shows a six-digit code
//! on its screen, the user types it here), or forget the bond. Works on any [`Link`].

use std::io::{BufRead, Write};

use async_trait::async_trait;
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::{Link, PasskeyEntry, parse_passkey};
use bandx_desktop::paths::DataDir;

use crate::{Cli, Failure};

/// How many times a code that is not six digits is asked for again.
const TYPING_ATTEMPTS: u32 = 3;

#[derive(clap::Args)]
pub struct PairArgs {
    /// The six-digit code the band shows, if you already know it [default: asked for on the
    /// terminal once the band shows it].
    #[arg(long, value_name = "NNNNNN", value_parser = code)]
    code: Option<u32>,
}

fn code(typed: &str) -> Result<u32, String> {
    parse_passkey(typed).ok_or_else(|| format!("{typed:?} is not a six-digit code"))
}

/// Where the code comes from: `--code`, else the virtual band's "screen" (`--sim`), else the
/// terminal.
pub struct TerminalPasskey {
    pub known: Option<u32>,
    /// The code a band without a screen of its own shows (the virtual band), once it shows one.
    pub screen: Option<Box<dyn Fn() -> Option<u32> + Send + Sync>>,
}

#[async_trait]
impl PasskeyEntry for TerminalPasskey {
    async fn passkey(&self) -> Option<u32> {
        eprintln!("The band shows a six-digit code on its screen.");
        if let Some(code) = self.known {
            eprintln!("Using the code given with --code: {code:06}.");
            return Some(code);
        }
        if let Some(shown) = self.screen.as_ref().and_then(|screen| screen()) {
            eprintln!("The virtual band has no screen: its code is {shown:06}, typed for you.");
            return Some(shown);
        }
        tokio::task::spawn_blocking(read_code).await.ok().flatten()
    }
}

/// `bandx pair`: on the virtual band with `--sim` (its code read off its "screen" unless
/// `--code` is given), else over Bluetooth (the code typed here).
pub async fn run(cli: &Cli, args: &PairArgs) -> Result<(), Failure> {
    let band = cli.band.as_deref();
    if cli.sim {
        let dir = DataDir::from_option(cli.data_dir.as_deref())?;
        let link = SimLink::open(dir.sim_dir())?;
        let virtual_band = link.band().clone();
        let entry = TerminalPasskey {
            known: args.code,
            screen: Some(Box::new(move || {
                virtual_band.displayed_passkey().map(|p| p.value())
            })),
        };
        pair(&link, band, &entry).await
    } else {
        let link = crate::open_link(cli).await?;
        let entry = TerminalPasskey {
            known: args.code,
            screen: None,
        };
        pair(link.as_ref(), band, &entry).await
    }
}

/// Asks on the terminal until six digits come, or the input ends (= cancelled).
fn read_code() -> Option<u32> {
    let stdin = std::io::stdin();
    for _ in 0..TYPING_ATTEMPTS {
        eprint!("Type the code shown on the band and press Enter: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        match parse_passkey(&line) {
            Some(code) => return Some(code),
            None => eprintln!("{:?} is not six digits.", line.trim()),
        }
    }
    None
}

/// Pairs with `band` (or the strongest band a scan finds) and says so.
pub async fn pair(
    link: &dyn Link,
    band: Option<&str>,
    entry: &TerminalPasskey,
) -> Result<(), Failure> {
    let id = crate::band_id(link, band).await?;
    eprintln!("Pairing with {id}...");
    link.pair(&id, entry).await?;
    println!("paired: {id}");
    Ok(())
}

/// Forgets the bond with `band` (or the strongest band a scan finds) on this desktop.
pub async fn unpair(link: &dyn Link, band: Option<&str>) -> Result<(), Failure> {
    let id = crate::band_id(link, band).await?;
    link.unpair(&id).await?;
    println!("unpaired: {id}");
    eprintln!("This desktop forgot the band; it refuses this desktop until you pair again.");
    Ok(())
}

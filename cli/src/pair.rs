//! `bandx pair` / `bandx unpair`: the one-time pairing that lets this desktop talk to a band, and forgetting it.
//!
//! The band shows a six-digit code on its screen; the user types it here (or passes `--code`). The virtual band
//! has no screen in a terminal, so with `--sim` its code is printed on stdout as `band_screen: NNNNNN`.

use std::io::{BufRead, Write};

use async_trait::async_trait;
use bandx_desktop::band::BandClient;
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::{Link, LinkError, PairError, PasskeyEntry, ScanRequest};
use bandx_desktop::owner::{OwnerKeyFile, claim_band};
use bandx_desktop::paths::DataDir;
use clap::Args;

use crate::{Cli, EXIT_LINK, EXIT_NOT_PAIRED, Failure};

#[derive(Args)]
pub struct PairArgs {
    /// The six-digit code the band shows (asked for on stdin when left out).
    #[arg(long, value_name = "NNNNNN")]
    code: Option<String>,
}

/// Reads the code: from `--code`, or typed on stdin after a prompt on stderr.
struct CodeEntry<'a> {
    given: Option<String>,
    /// The virtual band, whose "screen" is printed.
    sim: Option<&'a SimLink>,
}

#[async_trait]
impl PasskeyEntry for CodeEntry<'_> {
    async fn passkey(&self) -> Option<u32> {
        if let Some(code) = self.sim.and_then(SimLink::displayed_passkey) {
            println!("band_screen: {code}");
            let _ = std::io::stdout().flush();
        }
        let typed = match &self.given {
            Some(code) => code.clone(),
            None => {
                eprint!("Type the six-digit code the band shows: ");
                let _ = std::io::stderr().flush();
                tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).map(|_| line)
                })
                .await
                .ok()?
                .ok()?
            }
        };
        parse_code(&typed)
    }
}

/// Six digits (spaces ignored); anything else is no code.
fn parse_code(text: &str) -> Option<u32> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The band to pair with: `--band`, or the strongest one a scan finds.
async fn band_id(cli: &Cli, link: &dyn Link) -> Result<String, Failure> {
    if let Some(id) = &cli.band {
        return Ok(id.clone());
    }
    let found = link.scan(ScanRequest::default()).await?;
    Ok(found
        .into_iter()
        .next()
        .ok_or_else(|| LinkError::NotFound("(none in range)".into()))?
        .id)
}

pub async fn pair(
    cli: &Cli,
    link: &dyn Link,
    sim: Option<&SimLink>,
    args: &PairArgs,
) -> Result<(), Failure> {
    if let Some(code) = &args.code
        && parse_code(code).is_none()
    {
        return Err(anyhow::anyhow!(
            "--code takes the six digits the band shows, e.g. --code 042917"
        )
        .into());
    }
    let id = band_id(cli, link).await?;
    let entry = CodeEntry {
        given: args.code.clone(),
        sim,
    };
    eprintln!("Pairing with {id}: the band shows a six-digit code on its screen.");
    link.pair(&id, &entry).await.map_err(pair_failure)?;
    println!("paired: {id}");
    // Right after the first pairing the band takes this desktop's owner key (then only it may update the band).
    // Best effort: a deploy claims an ownerless band too.
    match claim(cli, link, &id).await {
        Ok(true) => println!("owner: this desktop"),
        Ok(false) => {
            println!("owner: another desktop");
            eprintln!(
                "This band belongs to another desktop: it streams to this one, but takes updates only from its \
                 owner. To make this desktop its owner, clear the band's owner over USB (`bandx forget-owner`), \
                 then pair again."
            );
        }
        Err(e) => {
            tracing::warn!("owner not set after pairing: {e:#}");
            eprintln!(
                "Could not make this desktop the band's owner yet ({e:#}); the first deploy will."
            );
        }
    }
    Ok(())
}

/// Makes this desktop the owner of the band `id` if it has none; whether this desktop is its owner.
async fn claim(cli: &Cli, link: &dyn Link, id: &str) -> anyhow::Result<bool> {
    let dir = DataDir::from_option(cli.data_dir.as_deref())?;
    let owner = OwnerKeyFile::load_or_create(&dir)?;
    let client = BandClient::new(link.connect(id).await?).await?;
    let owned = claim_band(&client, &owner).await;
    let _ = client.connection().disconnect().await;
    Ok(owned?)
}

pub async fn unpair(cli: &Cli, link: &dyn Link) -> Result<(), Failure> {
    let id = band_id(cli, link).await?;
    link.unpair(&id).await.map_err(pair_failure)?;
    println!("unpaired: {id}");
    Ok(())
}

fn pair_failure(e: PairError) -> Failure {
    match e {
        PairError::Link(link) => link.into(),
        PairError::Timeout(_) => Failure {
            code: EXIT_LINK,
            error: e.into(),
        },
        other => Failure {
            code: EXIT_NOT_PAIRED,
            error: other.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_code;

    #[test]
    fn a_code_is_six_digits() {
        assert_eq!(parse_code("042917\n"), Some(42917));
        assert_eq!(parse_code("042 917"), Some(42917));
        for bad in ["", "42917", "0429170", "04291x", "-42917"] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }
}

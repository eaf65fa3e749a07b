//! `authgate keys list` and `authgate keys rotate`: the asymmetric signing keys of a running
//! gateway, through its admin listener ([`crate::admin::keys`]). A rotation is written to the
//! token store, so every gateway sharing it (Redis) takes it within its refresh period.

use super::token_admin::{runtime, utc};
use super::{note, print_out, CommandError};
use crate::admin::client::AdminClient;
use crate::admin::keys::{KeyList, RotateRequest};
use crate::cli::{KeysCommand, KeysListArgs, KeysRotateArgs};
use crate::config::Config;
use crate::tokens::jose::Alg;

pub fn run(command: &KeysCommand) -> Result<(), CommandError> {
    match command {
        KeysCommand::List(args) => list(args),
        KeysCommand::Rotate(args) => rotate(args),
    }
}

fn list(args: &KeysListArgs) -> Result<(), CommandError> {
    let config = Config::load(&args.config.config)?;
    let client = AdminClient::from_config(&config).map_err(CommandError::Failed)?;
    let list = runtime()?
        .block_on(client.keys())
        .map_err(CommandError::Failed)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&list).map_err(|e| CommandError::Failed(e.to_string()))?;
        return print_out(&format!("{text}\n"));
    }
    print_out(&table(&list))
}

fn rotate(args: &KeysRotateArgs) -> Result<(), CommandError> {
    let algs = args
        .algs
        .iter()
        .map(|text| {
            Alg::parse(text).ok_or_else(|| {
                CommandError::BadArguments(format!("--alg {text}: must be RS256, ES256 or EdDSA"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config::load(&args.config.config)?;
    let client = AdminClient::from_config(&config).map_err(CommandError::Failed)?;
    let request = RotateRequest {
        algs,
        force: args.force,
    };
    let list = runtime()?
        .block_on(client.rotate_keys(&request))
        .map_err(CommandError::Failed)?;
    note("rotated: the next keys sign from now on; the previous ones stay published until their retention ends");
    print_out(&table(&list))
}

fn table(list: &KeyList) -> String {
    let mut out = format!(
        "{:<44} {:<6} {:<8} {:<20} {:<20} {:<20}\n",
        "KID", "ALG", "STATE", "CREATED", "SIGNING SINCE", "RETIRED"
    );
    let date = |t: Option<u64>| t.map(utc).unwrap_or_else(|| "-".to_owned());
    for key in &list.keys {
        out.push_str(&format!(
            "{:<44} {:<6} {:<8} {:<20} {:<20} {:<20}\n",
            key.kid,
            key.alg.as_str(),
            key.state.as_str(),
            utc(key.created_at),
            date(key.activated_at),
            date(key.retired_at),
        ));
    }
    out.push_str(&format!(
        "retired keys stay published for {} s after they stop signing; the JWKS may be cached for {} s\n",
        list.retention_secs, list.jwks_max_age_secs
    ));
    out
}

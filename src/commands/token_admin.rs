//! `authgate token list` and `authgate token revoke`: the live token store of a running
//! gateway, through its admin listener ([`crate::admin::client`]). What is revoked is refused
//! from the gateway's next request on.

use super::{note, print_out, CommandError};
use crate::admin::api::{GrantList, RevokeTarget};
use crate::admin::client::AdminClient;
use crate::cli::{TokenListArgs, TokenRevokeArgs};
use crate::config::Config;
use crate::store::GrantFilter;

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Failed(format!("cannot start the runtime: {e}")))
}

pub fn list(args: &TokenListArgs) -> Result<(), CommandError> {
    let config = Config::load(&args.config.config)?;
    let client = AdminClient::from_config(&config).map_err(CommandError::Failed)?;
    let filter = GrantFilter {
        user: args.user.clone(),
        client: args.client.clone(),
    };
    let list = runtime()?
        .block_on(client.list(&filter))
        .map_err(CommandError::Failed)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&list).map_err(|e| CommandError::Failed(e.to_string()))?;
        return print_out(&format!("{text}\n"));
    }
    print_out(&table(&list))?;
    print_out(&client_table(&list))?;
    for unlisted in &list.client_tokens {
        if let Some(until) = unlisted.unlisted_until {
            note(&format!(
                "client {}: more client_credentials tokens were issued than are recorded ({} per client, {} in all); those not listed may be live until {}. `authgate token revoke --client {}` revokes every one of them",
                unlisted.client_id,
                crate::store::CLIENT_ACCESS_PER_CLIENT,
                crate::store::CLIENT_ACCESS_TOTAL,
                utc(until),
                unlisted.client_id
            ));
        }
    }
    if list.truncated {
        note(&format!(
            "only the first {} grants and {} clients' tokens are shown: narrow with --user or --client",
            list.grants.len(),
            list.client_tokens.len()
        ));
    }
    Ok(())
}

pub fn revoke(args: &TokenRevokeArgs) -> Result<(), CommandError> {
    let target = match (&args.user, &args.client, &args.jti) {
        (Some(user), None, None) => RevokeTarget::User(user.clone()),
        (None, Some(client), None) => RevokeTarget::Client(client.clone()),
        (None, None, Some(jti)) => RevokeTarget::Jti(jti.clone()),
        _ => {
            return Err(CommandError::BadArguments(
                "give exactly one of --user, --client, --jti".to_owned(),
            ))
        }
    };
    let config = Config::load(&args.config.config)?;
    let client = AdminClient::from_config(&config).map_err(CommandError::Failed)?;
    let outcome = runtime()?
        .block_on(client.revoke(&target))
        .map_err(CommandError::Failed)?;
    let what = match &outcome.revoked {
        RevokeTarget::User(user) => format!(
            "user {user}: {} grant(s) and every session ended, access tokens issued until now refused",
            outcome.grants
        ),
        RevokeTarget::Client(client) => format!(
            "client {client}: {} grant(s) ended, access tokens issued until now refused",
            outcome.grants
        ),
        RevokeTarget::Jti(jti) => format!("access token {jti} refused"),
    };
    print_out(&format!("revoked {what}\n"))
}

/// One line per grant, aligned.
fn table(list: &GrantList) -> String {
    let mut rows = vec![[
        "FAMILY".to_owned(),
        "USER".to_owned(),
        "CLIENT".to_owned(),
        "ENDS (UTC)".to_owned(),
        "ACCESS TOKENS (jti)".to_owned(),
    ]];
    for grant in &list.grants {
        let jtis: Vec<&str> = grant.access.iter().map(|a| a.jti.as_str()).collect();
        rows.push([
            grant.family.clone(),
            grant.user.clone(),
            grant.client_id.clone(),
            utc(grant.expires_at),
            if jtis.is_empty() {
                "-".to_owned()
            } else {
                jtis.join(",")
            },
        ]);
    }
    let mut widths = [0usize; 4];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (w, cell) in widths.iter().zip(row) {
            out.push_str(cell);
            out.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        out.push_str(&row[4]);
        out.push('\n');
    }
    if list.grants.is_empty() && list.client_tokens.is_empty() {
        out.push_str("(no live grants)\n");
    } else if list.grants.is_empty() {
        out.push_str("(no live sign-in grants)\n");
    }
    out
}

/// The `client_credentials` access tokens, one line each; nothing when there are none.
fn client_table(list: &GrantList) -> String {
    let mut rows = vec![[
        "CLIENT".to_owned(),
        "JTI".to_owned(),
        "EXPIRES (UTC)".to_owned(),
        "SCOPE".to_owned(),
    ]];
    for client in &list.client_tokens {
        for access in &client.access {
            rows.push([
                client.client_id.clone(),
                access.jti.clone(),
                utc(access.expires_at),
                if access.scope.is_empty() {
                    "-".to_owned()
                } else {
                    access.scope.clone()
                },
            ]);
        }
    }
    if rows.len() == 1 {
        return String::new();
    }
    let mut widths = [0usize; 3];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::from("\nclient_credentials access tokens:\n");
    for row in &rows {
        for (w, cell) in widths.iter().zip(row) {
            out.push_str(cell);
            out.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        out.push_str(&row[3]);
        out.push('\n');
    }
    out
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (the civil-from-days algorithm of
/// Howard Hinnant's date library).
pub(crate) fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{GrantSummary, IssuedAccess};

    #[test]
    fn client_credentials_tokens_get_their_own_table() {
        let list = GrantList {
            grants: Vec::new(),
            client_tokens: vec![crate::store::ClientTokens {
                client_id: "worker".into(),
                access: vec![crate::store::ClientAccess {
                    jti: "j1".into(),
                    scope: "api:read".into(),
                    issued_at: 0,
                    expires_at: 0,
                }],
                unlisted_until: None,
            }],
            truncated: false,
        };
        let text = client_table(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "client_credentials access tokens:");
        assert_eq!(
            lines[3], "worker  j1   1970-01-01T00:00:00Z  api:read",
            "{text}"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn the_table_lines_up() {
        let list = GrantList {
            grants: vec![GrantSummary {
                family: "fam1".into(),
                user: "alice".into(),
                client_id: "spa".into(),
                expires_at: 0,
                access: vec![IssuedAccess {
                    jti: "j1".into(),
                    expires_at: 9,
                }],
                sid: None,
            }],
            client_tokens: Vec::new(),
            truncated: false,
        };
        assert_eq!(client_table(&list), "");
        let text = table(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1].starts_with("fam1    alice  spa     1970-01-01T00:00:00Z  j1"),
            "{text}"
        );
    }
}

//! The configuration reference agrees with the file's real shape: every key documented in
//! `docs/configuration.md` is one `gateway.toml` accepts, and every key it accepts is
//! documented. The real keys come from `config::file`'s structs through [`keys`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::keys;
use crate::config::file::FileConfig;

/// The keys `docs/configuration.md` documents, each with the line documenting it: a heading
/// that begins with a section in backticks (`` ## `[server.tls]` ``, `` ## `[[routes]]` ``)
/// documents that section, and each row of a `| key | default | meaning |` table under it
/// documents `SECTION.KEY` for every key in backticks in its first cell.
fn documented_keys(text: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut documented = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut in_key_table = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            in_key_table = false;
            let heading = trimmed.trim_start_matches('#').trim();
            section = heading
                .strip_prefix("`[")
                .and_then(|rest| rest.split_once("]`"))
                .map(|(name, _)| name.trim_matches(|c| c == '[' || c == ']').to_owned());
            if let Some(name) = &section {
                documented.insert(name.clone(), number);
            }
            continue;
        }
        if !trimmed.starts_with('|') {
            in_key_table = false;
            continue;
        }
        let cells: Vec<&str> = trimmed.split('|').map(str::trim).collect();
        if cells.get(1..4) == Some(&["key", "default", "meaning"][..]) {
            in_key_table = true;
            continue;
        }
        if !in_key_table || cells.get(1).is_some_and(|c| c.starts_with("---")) {
            continue;
        }
        let Some(section) = &section else {
            return Err(format!(
                "line {number}: a key table under no `[section]` heading"
            ));
        };
        let first = cells.get(1).copied().unwrap_or_default();
        let names: Vec<&str> = first.split('`').skip(1).step_by(2).collect();
        if names.is_empty() {
            return Err(format!("line {number}: a key row without a `key`"));
        }
        for name in names {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!("line {number}: `{name}` is not a key name"));
            }
            documented.insert(format!("{section}.{name}"), number);
        }
    }
    Ok(documented)
}

#[test]
fn the_configuration_reference_documents_exactly_the_real_keys() {
    let real = keys::<FileConfig>().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let documented = documented_keys(&text).unwrap();
    let unknown: Vec<String> = documented
        .iter()
        .filter(|(key, _)| !real.contains(*key))
        .map(|(key, line)| format!("{key} (docs/configuration.md:{line})"))
        .collect();
    let undocumented: Vec<&String> = real
        .iter()
        .filter(|key| !documented.contains_key(*key))
        .collect();
    assert!(
        unknown.is_empty() && undocumented.is_empty(),
        "docs/configuration.md and gateway.toml's real keys (config::file) disagree:\n  \
         documented but not a key: {unknown:?}\n  a key but not documented: {undocumented:?}"
    );
}

/// The recorder itself, on a shape with every kind of nesting the file uses.
#[test]
fn keys_walk_nested_sections_options_arrays_and_maps() {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Root {
        plain: Spanned<String>,
        #[serde(rename = "type")]
        kind: Option<Spanned<u32>>,
        section: Option<Spanned<Section>>,
        #[serde(default)]
        list: Vec<Spanned<Section>>,
        #[serde(default)]
        names: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
        #[serde(default)]
        tables: BTreeMap<String, Section>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Section {
        flag: bool,
        inner: Option<Inner>,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        deep: Vec<String>,
    }
    let found = keys::<Root>().unwrap();
    let expected: BTreeSet<String> = [
        "plain",
        "type",
        "section",
        "section.flag",
        "section.inner",
        "section.inner.deep",
        "list",
        "list.flag",
        "list.inner",
        "list.inner.deep",
        "names",
        "tables",
        "tables.NAME.flag",
        "tables.NAME.inner",
        "tables.NAME.inner.deep",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn the_reference_format_is_read_as_documented() {
    let text = "# Title\n\n## `[server]`\n\n| key | default | meaning |\n| --- | --- | --- |\n\
                | `listen` | required | where |\n| `client_id`, `client_secret` | x | y |\n\n\
                Some text with | a pipe.\n\n### `[[routes]]`: the routes\n\n\
                | key | default | meaning |\n| --- | --- | --- |\n| `path` | required | p |\n\n\
                ## Other\n\n| request | credential | answer |\n| --- | --- | --- |\n| `GET /x` | none | y |\n";
    let documented = documented_keys(text).unwrap();
    let names: Vec<&str> = documented.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "routes",
            "routes.path",
            "server",
            "server.client_id",
            "server.client_secret",
            "server.listen"
        ]
    );
    let orphan = "## Other\n\n| key | default | meaning |\n| --- | --- | --- |\n| `x` | 1 | y |\n";
    assert!(documented_keys(orphan)
        .unwrap_err()
        .contains("no `[section]` heading"));
}

/// The dotted paths of every key in a TOML example, stopping at a real key that has no real
/// keys below it (a map of free names such as `[scopes]`).
fn example_keys(prefix: &str, table: &toml::Table, real: &BTreeSet<String>, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let free_names =
            real.contains(&path) && !real.iter().any(|r| r.starts_with(&format!("{path}.")));
        out.push(path.clone());
        if free_names {
            continue;
        }
        match value {
            toml::Value::Table(inner) => example_keys(&path, inner, real, out),
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(inner) = item {
                        example_keys(&path, inner, real, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The configuration examples in README.md and docs/ (```toml blocks) parse, and every key
/// they use is a real one: an example cannot keep a renamed or removed key.
#[test]
fn every_key_in_the_documentation_examples_is_real() {
    let real = keys::<FileConfig>().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut wrong = Vec::new();
    let mut examples = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root).unwrap().display().to_string();
        let mut block: Option<(usize, String)> = None;
        for (index, line) in text.lines().enumerate() {
            match (&mut block, line.trim_start()) {
                (None, "```toml") => block = Some((index + 1, String::new())),
                (Some((start, body)), "```") => {
                    examples += 1;
                    match body.parse::<toml::Table>() {
                        Err(err) => wrong.push(format!("{name}:{start}: not TOML: {err}")),
                        Ok(table) => {
                            let mut found = Vec::new();
                            example_keys("", &table, &real, &mut found);
                            wrong.extend(
                                found
                                    .into_iter()
                                    .filter(|key| !real.contains(key))
                                    .map(|key| format!("{name}:{start}: `{key}` is not a key")),
                            );
                        }
                    }
                    block = None;
                }
                (Some((_, body)), _) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, _) => {}
            }
        }
    }
    assert!(examples >= 5, "only {examples} TOML examples found");
    assert!(
        wrong.is_empty(),
        "documentation examples:\n{}",
        wrong.join("\n")
    );
}

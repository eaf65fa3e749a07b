//! `gateway.toml` as an editable document, for the commands that change it (`client add`,
//! `client remove`, `client rotate-secret`, `user add`, `user remove`).
//!
//! Edits go through `toml_edit`, so every comment, blank line and key order the operator wrote
//! survives; a removed entry takes only the comment block directly above it, and a section
//! comment separated from it by a blank line stays. Two rules make an edit safe:
//!
//! - nothing is written unless the new text passes the validator `authgate check` uses
//!   ([`Config::from_toml_str_at`], as if it were already the file), so an edit can never
//!   leave a configuration that `serve` would refuse;
//! - the write is atomic: a temporary file in the same directory with the original's mode
//!   and owner, fsync, rename over the original (through a symlink to its target), fsync of
//!   the directory. A gateway reloading the file, or a crash, sees the old file or the new
//!   one. A file changed by someone else while the command ran is not overwritten.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use super::CommandError;
use crate::config::error::Source;
use crate::config::{Config, ConfigError};
use crate::private_file::{replace_atomically, ReplaceError, ReplaceStep};

/// The arrays of tables the commands edit, and the key that names an entry in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[[users]]`, named by `name`.
    Users,
    /// `[[clients]]`, named by `id`.
    Clients,
}

impl Section {
    /// The array's key in the file.
    pub fn key(self) -> &'static str {
        match self {
            Section::Users => "users",
            Section::Clients => "clients",
        }
    }

    /// The key that names one entry.
    pub fn name_key(self) -> &'static str {
        match self {
            Section::Users => "name",
            Section::Clients => "id",
        }
    }

    /// The arrays a new section is placed before, in the order of the configuration
    /// reference: users, clients, routes. Without them, it goes at the end.
    fn comes_before(self) -> &'static [&'static str] {
        match self {
            Section::Users => &["clients", "routes"],
            Section::Clients => &["routes"],
        }
    }
}

/// The configuration file, read and parsed for editing.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// As the operator named it: errors, validation and relative paths go by this name.
    path: PathBuf,
    /// The text as read, to notice a concurrent change before replacing it.
    original: String,
    doc: DocumentMut,
}

impl ConfigFile {
    /// Reads and parses `path`. Only TOML syntax is checked here: a file that is valid TOML
    /// but an invalid configuration can still be edited (removing the entry at fault, say);
    /// [`ConfigFile::save`] judges the result.
    pub fn open(path: &Path) -> Result<ConfigFile, CommandError> {
        let name = path.display().to_string();
        let original = fs::read_to_string(path).map_err(|err| {
            CommandError::Config(ConfigError {
                file: name.clone(),
                line: None,
                key: None,
                message: format!("cannot read the configuration: {err}"),
            })
        })?;
        let doc = parse(&name, &original)?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            original,
            doc,
        })
    }

    /// A file that was never on disk, for tests of the edits themselves.
    #[cfg(test)]
    pub fn from_text(path: &Path, text: &str) -> Result<ConfigFile, CommandError> {
        Ok(ConfigFile {
            path: path.to_path_buf(),
            original: text.to_owned(),
            doc: parse(&path.display().to_string(), text)?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text as it would be written now.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Index of the entry of `section` whose name key is `name`.
    pub fn position(&self, section: Section, name: &str) -> Option<usize> {
        match self.doc.get(section.key())? {
            Item::ArrayOfTables(tables) => tables
                .iter()
                .position(|t| is_named(t as &dyn TableLike, section, name)),
            Item::Value(Value::Array(values)) => values.iter().position(|v| {
                v.as_inline_table()
                    .is_some_and(|t| is_named(t as &dyn TableLike, section, name))
            }),
            _ => None,
        }
    }

    /// The entry of `section` named `name`, for changing its keys.
    pub fn entry_mut(&mut self, section: Section, name: &str) -> Option<&mut dyn TableLike> {
        let index = self.position(section, name)?;
        match self.doc.get_mut(section.key())? {
            Item::ArrayOfTables(tables) => tables.get_mut(index).map(|t| t as &mut dyn TableLike),
            Item::Value(Value::Array(values)) => values
                .get_mut(index)
                .and_then(Value::as_inline_table_mut)
                .map(|t| t as &mut dyn TableLike),
            _ => None,
        }
    }

    /// Appends `entry` to `section`. An entry of an existing array goes right after its last
    /// one; the first entry of a new array goes before the first `[[clients]]` or
    /// `[[routes]]` that should follow it (users, clients, routes), or else at the end.
    pub fn append(&mut self, section: Section, mut entry: Table) -> Result<(), CommandError> {
        let key = section.key();
        match self.doc.get_mut(key) {
            None => {
                entry.decor_mut().set_prefix("\n");
                if let Some(at) = self.first_position_of(section.comes_before()) {
                    // Make room: every table from there on moves one place down.
                    visit_tables(self.doc.as_table_mut(), &mut |t| {
                        if let Some(p) = t.position().filter(|&p| p >= at) {
                            t.set_position(p + 1);
                        }
                    });
                    entry.set_position(at);
                }
                let mut tables = ArrayOfTables::new();
                tables.push(entry);
                self.doc.insert(key, Item::ArrayOfTables(tables));
                Ok(())
            }
            Some(Item::ArrayOfTables(tables)) => {
                entry.decor_mut().set_prefix("\n");
                tables.push(entry);
                Ok(())
            }
            Some(Item::Value(Value::Array(values))) => {
                let mut table = entry.into_inline_table();
                table.fmt();
                let mut inline = Value::InlineTable(table);
                // Laid out like the entry before it: one per line, say.
                if let Some(prefix) = values
                    .iter()
                    .last()
                    .and_then(|v| v.decor().prefix())
                    .cloned()
                {
                    inline.decor_mut().set_prefix(prefix);
                }
                values.push_formatted(inline);
                Ok(())
            }
            // `clients = "x"` or a single `[clients]` table: the validator says where.
            Some(_) => Err(match Config::from_toml_str_at(&self.original, &self.path) {
                Err(err) => CommandError::Config(err),
                Ok(_) => CommandError::Failed(format!(
                    "{}: `{key}` is not an array of tables ([[{key}]])",
                    self.path.display()
                )),
            }),
        }
    }

    /// The document position of the first table of any of the arrays `keys`.
    fn first_position_of(&self, keys: &[&str]) -> Option<usize> {
        keys.iter()
            .filter_map(|key| match self.doc.get(key)? {
                Item::ArrayOfTables(tables) => tables.iter().filter_map(Table::position).min(),
                _ => None,
            })
            .min()
    }

    /// Removes the entry of `section` named `name`; false when there is none.
    pub fn remove(&mut self, section: Section, name: &str) -> bool {
        let Some(index) = self.position(section, name) else {
            return false;
        };
        let removed = match self.doc.get_mut(section.key()) {
            Some(Item::ArrayOfTables(tables)) => {
                let removed = tables.get(index).cloned();
                tables.remove(index);
                removed
            }
            Some(Item::Value(Value::Array(values))) => {
                let removed = values.remove(index);
                // The next entry takes the removed one's place in the layout.
                if let (Some(next), Some(prefix)) =
                    (values.get_mut(index), removed.decor().prefix().cloned())
                {
                    next.decor_mut().set_prefix(prefix);
                }
                None
            }
            _ => return false,
        };
        if let Some(table) = removed {
            self.keep_section_comment(&table);
        }
        true
    }

    /// Validates the current text as if it were the file, without writing anything.
    ///
    /// A problem the file already had is reported as it is in the file on disk, so that its
    /// line number points there; a problem the edit brings is reported in the changed text,
    /// whose lines from the new entry on differ from the file's.
    pub fn validate(&self) -> Result<Config, CommandError> {
        Config::from_toml_str_at(&self.text(), &self.path).map_err(|mut err| {
            match Config::from_toml_str_at(&self.original, &self.path) {
                Err(mut before) if before.message == err.message => {
                    before.message.push_str(" (nothing was written)");
                    CommandError::Config(before)
                }
                _ => {
                    err.message
                        .push_str(" (in the changed file; nothing was written)");
                    CommandError::Config(err)
                }
            }
        })
    }

    /// Validates the current text and, only if `check` would accept it, replaces the file
    /// atomically. Returns the configuration as the gateway will load it.
    pub fn save(&self) -> Result<Config, CommandError> {
        let config = self.validate()?;
        replace_file(&self.path, &self.original, &self.text())?;
        Ok(config)
    }

    /// A removed table's leading comment block belongs to it, but a comment separated from
    /// it by a blank line (`# OAuth clients`, above the first entry) belongs to the section:
    /// that part moves to the table that now follows, or to the end of the file.
    fn keep_section_comment(&mut self, removed: &Table) {
        let prefix = removed
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("");
        let (section_part, _) = split_section_comment(prefix);
        if !section_part.contains('#') {
            return;
        }
        let section_part = section_part.to_owned();
        let after = removed.position().and_then(|at| {
            let mut next: Option<usize> = None;
            visit_tables(self.doc.as_table_mut(), &mut |t| {
                if let Some(p) = t.position().filter(|&p| p > at) {
                    next = Some(next.map_or(p, |n| n.min(p)));
                }
            });
            next
        });
        match after {
            Some(next) => visit_tables(self.doc.as_table_mut(), &mut |t| {
                if t.position() == Some(next) {
                    let own = t
                        .decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .unwrap_or("")
                        .trim_start_matches(['\n', '\r', ' ', '\t'])
                        .to_owned();
                    t.decor_mut().set_prefix(format!("{section_part}{own}"));
                }
            }),
            None => {
                let trailing = self.doc.trailing().as_str().unwrap_or("").to_owned();
                self.doc.set_trailing(format!("{section_part}{trailing}"));
            }
        }
    }
}

fn is_named(table: &dyn TableLike, section: Section, name: &str) -> bool {
    table
        .get(section.name_key())
        .and_then(Item::as_str)
        .is_some_and(|n| n == name)
}

/// Parses TOML for editing; a syntax error names the file and line like `check` does.
fn parse(name: &str, text: &str) -> Result<DocumentMut, CommandError> {
    text.parse::<DocumentMut>().map_err(|err| {
        let src = Source { name, text };
        let line = err.span().map(|span| src.line_of(span.start));
        // toml_edit's message repeats the line and a caret; its first line is the cause.
        let message = err
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_owned();
        CommandError::Config(ConfigError {
            file: name.to_owned(),
            line,
            key: None,
            message,
        })
    })
}

/// Splits a table's leading decor at its last blank line: what comes before belongs to the
/// section, what comes after (the comment block directly above the header) to the table.
fn split_section_comment(prefix: &str) -> (&str, &str) {
    let mut cut = 0;
    let mut start = 0;
    for line in prefix.split_inclusive('\n') {
        start += line.len();
        if line.trim().is_empty() && line.ends_with('\n') {
            cut = start;
        }
    }
    prefix.split_at(cut)
}

/// Calls `f` on every table of the document, however nested.
fn visit_tables(table: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(child) => {
                f(child);
                visit_tables(child, f);
            }
            Item::ArrayOfTables(tables) => {
                for child in tables.iter_mut() {
                    f(child);
                    visit_tables(child, f);
                }
            }
            _ => {}
        }
    }
}

/// Replaces the file at `path` with `text`, atomically, keeping its mode and owner, unless
/// its content is no longer `expected` (someone else changed it meanwhile).
fn replace_file(path: &Path, expected: &str, text: &str) -> Result<(), CommandError> {
    let name = path.display();
    let fail = |what: &str, err: std::io::Error| {
        CommandError::Failed(format!("{name}: {what}: {err}; nothing was written"))
    };
    // Write where a symlink points, so the link stays a link.
    let target = fs::canonicalize(path).map_err(|e| fail("cannot resolve the path", e))?;
    let metadata = fs::metadata(&target).map_err(|e| fail("cannot read its metadata", e))?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gateway.toml".to_owned());
    let mut random = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));

    // 0600 until the content is complete, then the original's mode and owner.
    let keep_mode_and_owner = |file: &fs::File| {
        let written = file
            .metadata()
            .map_err(|e| fail("cannot read the temporary file's metadata", e))?;
        if (written.uid(), written.gid()) != (metadata.uid(), metadata.gid()) {
            std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid())).map_err(
                |e| {
                    fail(
                        &format!(
                            "cannot keep its owner (uid {}, gid {})",
                            metadata.uid(),
                            metadata.gid()
                        ),
                        e,
                    )
                },
            )?;
        }
        file.set_permissions(fs::Permissions::from_mode(metadata.mode() & 0o7777))
            .map_err(|e| fail("cannot keep its permissions", e))
    };
    let unchanged = || {
        let current = fs::read_to_string(&target).map_err(|e| fail("cannot read it again", e))?;
        if current != expected {
            return Err(CommandError::Failed(format!(
                "{name}: the file changed while this command ran; nothing was written, run it again"
            )));
        }
        Ok(())
    };
    let write = |out: &mut dyn std::io::Write| out.write_all(text.as_bytes());
    replace_atomically(&tmp, &target, write, keep_mode_and_owner, unchanged).map_err(
        |err| match err {
            ReplaceError::Io(ReplaceStep::Create, e) => {
                fail("cannot create a temporary file beside it", e)
            }
            ReplaceError::Io(ReplaceStep::Write, e) => fail("cannot write the temporary file", e),
            ReplaceError::Io(ReplaceStep::Sync, e) => fail("cannot flush the temporary file", e),
            ReplaceError::Io(ReplaceStep::Rename, e) => fail("cannot replace it", e),
            ReplaceError::Io(ReplaceStep::SyncDir, e) => CommandError::Failed(format!(
                "{name}: written, but the directory could not be flushed: {e}"
            )),
            ReplaceError::Refused(err) => err,
        },
    )
}

#[cfg(test)]
mod tests;

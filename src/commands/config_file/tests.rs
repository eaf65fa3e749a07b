use super::*;

const FILE: &str = "# top comment\n[server]\nlisten = \"127.0.0.1:8443\"   # trailing\npublic_url = \"https://gw.example.com\"\n";

fn user(name: &str) -> Table {
    let mut t = Table::new();
    t.insert("name", toml_edit::value(name));
    t.insert("password", toml_edit::value("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    t
}

fn stray(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "gateway.toml")
        .collect()
}

#[test]
fn save_writes_atomically_with_the_same_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    fs::write(&path, FILE).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let mut file = ConfigFile::open(&path).unwrap();
    file.append(Section::Users, user("bob")).unwrap();
    let config = file.save().unwrap();
    assert_eq!(config.users[0].name, "bob");
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(FILE), "{text}");
    assert!(text.ends_with("\n[[users]]\nname = \"bob\"\npassword = \"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n"), "{text}");
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o640);
    assert!(stray(dir.path()).is_empty());
}

#[test]
fn an_invalid_result_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    fs::write(&path, FILE).unwrap();
    let mut file = ConfigFile::open(&path).unwrap();
    file.append(Section::Users, user("bob")).unwrap();
    file.append(Section::Users, user("bob")).unwrap();
    let err = file.save().unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains(":11: users[1].name: users[0] has the same name (in the changed file; nothing was written)"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), FILE);
    assert!(stray(dir.path()).is_empty());
}

#[test]
fn a_problem_the_file_had_is_reported_at_its_own_line() {
    let broken = format!("{FILE}[log]\nformat = \"xml\"\n");
    let mut file = ConfigFile::from_text(Path::new("/nowhere/gateway.toml"), &broken).unwrap();
    let before = Config::from_toml_str_at(&broken, file.path()).unwrap_err();
    file.append(Section::Users, user("bob")).unwrap();
    let err = file.validate().unwrap_err().to_string();
    assert_eq!(err, format!("{before} (nothing was written)"));
    assert!(
        err.starts_with("/nowhere/gateway.toml:6: log.format: "),
        "{err}"
    );
}

#[test]
fn a_file_changed_meanwhile_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    fs::write(&path, FILE).unwrap();
    let mut file = ConfigFile::open(&path).unwrap();
    file.append(Section::Users, user("bob")).unwrap();
    let theirs = format!("{FILE}# someone else's edit\n");
    fs::write(&path, &theirs).unwrap();
    let err = file.save().unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.to_string().contains("changed while this command ran"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), theirs);
    assert!(stray(dir.path()).is_empty());
}

#[test]
fn new_sections_go_in_reference_order() {
    let text = format!(
        "{FILE}\n# The app.\n[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\nauth = \"none\"\n# the end\n"
    );
    let mut file = ConfigFile::from_text(Path::new("/nowhere/gateway.toml"), &text).unwrap();
    let mut client = Table::new();
    client.insert("id", toml_edit::value("c"));
    client.insert("type", toml_edit::value("public"));
    client.insert(
        "redirect_uris",
        toml_edit::value(toml_edit::Array::from_iter(["http://127.0.0.1/cb"])),
    );
    file.append(Section::Clients, client).unwrap();
    file.append(Section::Users, user("bob")).unwrap();
    let out = file.text();
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {out}"))
    };
    assert!(out.starts_with(FILE), "{out}");
    assert!(at("[[users]]") < at("[[clients]]"), "{out}");
    assert!(at("[[clients]]") < at("# The app.\n[[routes]]"), "{out}");
    assert!(out.ends_with("auth = \"none\"\n# the end\n"), "{out}");
    file.validate().unwrap();
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let err = ConfigFile::from_text(Path::new("g.toml"), "[server]\nlisten = \n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("g.toml:2: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn section_comment_split() {
    assert_eq!(split_section_comment(""), ("", ""));
    assert_eq!(split_section_comment("# mine\n"), ("", "# mine\n"));
    assert_eq!(
        split_section_comment("\n# Clients\n\n# the SPA\n"),
        ("\n# Clients\n\n", "# the SPA\n")
    );
    assert_eq!(split_section_comment("\n"), ("\n", ""));
}

//! Debian's Apache with mod_auth_openidc as a real relying party in front of a real app: a
//! CGI page that prints what the module hands it (`REMOTE_USER`, `OIDC_CLAIM_*`).
//!
//! [`Apache::start`] writes a self-contained `httpd.conf` (nothing from `/etc/apache2`, the
//! configuration of `../shared/research/oidc-provider.md` §4.1) into a temporary directory,
//! and runs `apache2 -f DIR/httpd.conf -DFOREGROUND` as a child process on a free
//! 127.0.0.1 port, in a process group of its own (prefork's parent signals its whole group
//! when it stops); dropping the handle stops it with SIGTERM (the parent stops its workers)
//! and waits for it. The module checks the gateway's TLS certificate against a copy of it
//! (`OIDCSSLValidateServer On`, `OIDCCABundlePath`).
//!
//! As root, Apache's workers run as `www-data`: the directory is made traversable, `run/`
//! and `logs/` writable, the CGI readable and executable by them. A machine without Apache
//! or the module fails the test, naming the packages to install (tests/run.sh installs
//! them); nothing is skipped.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// What to install when Apache or the module is missing.
const INSTALL: &str = "install Debian's `apache2` and `libapache2-mod-auth-openidc` \
     (`apt-get install apache2 libapache2-mod-auth-openidc`; tests/run.sh does it)";

/// The CGI page: what mod_auth_openidc hands the application.
const CLAIMS_CGI: &str = "#!/bin/sh\n\
printf 'Content-Type: text/plain\\n\\n'\n\
echo \"REMOTE_USER=$REMOTE_USER\"\n\
env | grep '^OIDC_' | sort\n";

/// The passphrase the module encrypts its state and session cookies with (a test value).
const PASSPHRASE: &str = "apache-test-passphrase-0123456789abcdef";

/// The `apache2` binary: `$APACHE2`, else `apache2` on PATH, else `/usr/sbin/apache2`
/// (Debian's, outside a non-root PATH).
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("APACHE2") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("apache2"))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/apache2"))
}

/// Apache's modules directory: `$APACHE2_MODULES`, else Debian's.
fn modules() -> PathBuf {
    std::env::var_os("APACHE2_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/apache2/modules"))
}

/// The relying party's settings.
pub struct RelyingParty<'a> {
    /// The provider's issuer (its discovery document is under it).
    pub issuer: &'a str,
    /// The provider's TLS certificate (PEM), trusted for the back-channel calls.
    pub ca_pem: &'a Path,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// A running Apache. Dropping it stops it.
pub struct Apache {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Apache {
    /// Starts Apache for `rp` on a free port (another one should it be taken meanwhile), and
    /// waits until it accepts connections.
    pub async fn start(rp: &RelyingParty<'_>) -> Apache {
        let mut last_log = String::new();
        for _ in 0..5 {
            match Apache::try_start(rp, free_port()).await {
                Ok(apache) => return apache,
                // Most likely the port was taken meanwhile: another one.
                Err(log) => last_log = log,
            }
        }
        panic!("Apache did not start:\n{last_log}");
    }

    /// Starts Apache for `rp` on `port` (chosen with [`free_port`] before the gateway's
    /// configuration named it, e.g. in a `post_logout_redirect_uris`).
    pub async fn start_at(rp: &RelyingParty<'_>, port: u16) -> Apache {
        Apache::try_start(rp, port)
            .await
            .unwrap_or_else(|log| panic!("Apache did not start on port {port}:\n{log}"))
    }

    async fn try_start(rp: &RelyingParty<'_>, port: u16) -> Result<Apache, String> {
        let apache2 = binary();
        let module = modules().join("mod_auth_openidc.so");
        assert!(
            apache2.is_file(),
            "{} not found: {INSTALL}",
            apache2.display()
        );
        assert!(
            module.is_file(),
            "{} not found: {INSTALL}",
            module.display()
        );
        let dir = prepare_dir(rp);
        let conf = dir.path().join("httpd.conf");
        std::fs::write(&conf, config(dir.path(), port, rp)).expect("write httpd.conf");
        let started = Instant::now();
        // Its own process group: prefork's parent signals its whole group when it stops,
        // which would otherwise be this test process's.
        let mut child = Command::new(&apache2)
            .process_group(0)
            .arg("-f")
            .arg(&conf)
            .arg("-DFOREGROUND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("{} did not start ({err}): {INSTALL}", apache2.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Apache {
                    child: Some(child),
                    port,
                    dir,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
                }
                return Err(format!("{status}: {stderr}{}", read_log(dir.path())));
            }
            if started.elapsed() > super::WAIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "Apache did not listen within {:?}:\n{}",
                    super::WAIT,
                    read_log(dir.path())
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The module's redirect URI (registered with the gateway without its port).
    pub fn redirect_uri(&self) -> String {
        self.url("/protected/redirect_uri")
    }

    /// Apache's error log so far (the module logs its refusals there).
    pub fn error_log(&self) -> String {
        read_log(self.dir.path())
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM to the parent, which stops its workers; SIGKILL only if it hangs.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
}

fn is_root() -> bool {
    // The effective user of this process, as the kernel reports it.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The directory: `htdocs/`, `cgi/claims.sh`, `run/`, `logs/`, the provider's certificate.
fn prepare_dir(rp: &RelyingParty<'_>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    set_mode(root, 0o755);
    for sub in ["htdocs", "cgi", "run", "logs"] {
        std::fs::create_dir(root.join(sub)).expect("mkdir");
    }
    // Written by the workers (www-data as root) and the parent; a throwaway directory.
    set_mode(&root.join("run"), 0o777);
    set_mode(&root.join("logs"), 0o777);
    std::fs::write(root.join("htdocs/loggedout.html"), "logged out\n").expect("write");
    let cgi = root.join("cgi/claims.sh");
    let mut file = std::fs::File::create(&cgi).expect("create CGI");
    file.write_all(CLAIMS_CGI.as_bytes()).expect("write CGI");
    drop(file);
    set_mode(&cgi, 0o755);
    // authgate writes its certificate 0600; the module reads a 0644 copy.
    std::fs::copy(rp.ca_pem, root.join("ca.pem")).expect("copy the provider's certificate");
    set_mode(&root.join("ca.pem"), 0o644);
    dir
}

/// A self-contained httpd.conf for `rp` on `port`.
fn config(dir: &Path, port: u16, rp: &RelyingParty<'_>) -> String {
    let d = dir.display();
    let m = modules();
    let m = m.display();
    let user = if is_root() {
        "User www-data\nGroup www-data\n"
    } else {
        ""
    };
    let issuer = rp.issuer.trim_end_matches('/');
    format!(
        r#"ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
ErrorLog {d}/logs/error.log
LogLevel warn auth_openidc:info
{user}StartServers 1
MinSpareServers 1
MaxSpareServers 2
LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so
LoadModule authn_core_module {m}/mod_authn_core.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule authz_user_module {m}/mod_authz_user.so
LoadModule alias_module {m}/mod_alias.so
LoadModule cgi_module {m}/mod_cgi.so
LoadModule mime_module {m}/mod_mime.so
LoadModule auth_openidc_module {m}/mod_auth_openidc.so
TypesConfig /etc/mime.types
DocumentRoot {d}/htdocs
<Directory />
    Require all denied
</Directory>
<Directory {d}/htdocs>
    Require all granted
</Directory>
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCSSLValidateServer On
OIDCCABundlePath {d}/ca.pem
OIDCClientID {client}
OIDCClientSecret "{secret}"
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase "{PASSPHRASE}"
OIDCResponseType code
OIDCPKCEMethod S256
OIDCScope "openid email profile groups"
OIDCRemoteUserClaim preferred_username
OIDCPassClaimsAs environment
OIDCPassIDTokenAs claims payload serialized
OIDCIDTokenIatSlack 60
OIDCSessionType server-cache
OIDCCacheType shm
OIDCDefaultLoggedOutURL http://127.0.0.1:{port}/loggedout.html
ScriptAlias /protected/claims {d}/cgi/claims.sh
ScriptAlias /protected/admin/claims {d}/cgi/claims.sh
<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
<Location /protected/admin>
    AuthType openid-connect
    Require claim groups:admins
</Location>
<Directory {d}/cgi>
    Options +ExecCGI
    Require all granted
</Directory>
"#,
        client = rp.client_id,
        secret = rp.client_secret,
    )
}

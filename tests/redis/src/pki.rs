//! A private CA made with the `openssl` command for the test, and a
//! `redis-server` that speaks only TLS and asks every client for a
//! certificate of that CA (`tls-auth-clients yes`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eventlib::redis::{Server, Tls};

use crate::{wait_for, TempDir};

/// The certificates of one test, in PEM files in a directory of its own.
pub struct Pki {
    pub dir: TempDir,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate,
    /// both signed by it, and a second CA (`rogue-ca.pem`) that signed
    /// neither.
    pub fn new(label: &str) -> Pki {
        let pki = Pki {
            dir: TempDir::new(label),
        };
        pki.ca("ca");
        pki.ca("rogue-ca");
        pki.signed("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost");
        pki.signed("client", "ca", "extendedKeyUsage=clientAuth");
        pki
    }

    /// The path of `<name>.pem` (a certificate) or `<name>.key`.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.0.join(file)
    }

    /// The CA and client certificate the server accepts.
    pub fn client_tls(&self) -> Tls {
        Tls::new()
            .ca_file(self.path("ca.pem"))
            .expect("read the CA")
            .client_files(self.path("client.pem"), self.path("client.key"))
            .expect("read the client certificate")
    }

    fn ca(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=eventlib test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    fn signed(&self, name: &str, ca: &str, extension: &str) {
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN=eventlib test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ]);
        std::fs::write(self.path(&format!("{name}.ext")), format!("{extension}\n"))
            .expect("write the extension file");
        self.openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .output()
            .expect("run openssl (Debian: apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A `redis-server` listening only on a TLS port, asking clients for a
/// certificate of the test's CA; killed on drop.
pub struct TlsRedisServer {
    pub port: u16,
    child: Child,
}

impl TlsRedisServer {
    /// Starts it and waits until a client with the right certificates gets
    /// an answer to PING.
    pub fn start(pki: &Pki) -> TlsRedisServer {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("find a free port");
            listener.local_addr().expect("local address").port()
        };
        let path = |file: &str| pki.path(file).display().to_string();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--tls-cert-file", &path("server.pem")])
            .args(["--tls-key-file", &path("server.key")])
            .args(["--tls-ca-cert-file", &path("ca.pem")])
            .args(["--tls-auth-clients", "yes"])
            .arg("--dir")
            .arg(&pki.dir.0)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let server = TlsRedisServer { port, child };
        let client = redis::Client::build_with_tls(
            server.url(),
            redis::TlsCertificates {
                client_tls: Some(redis::ClientTlsConfig {
                    client_cert: std::fs::read(pki.path("client.pem")).expect("client.pem"),
                    client_key: std::fs::read(pki.path("client.key")).expect("client.key"),
                }),
                root_cert: Some(std::fs::read(pki.path("ca.pem")).expect("ca.pem")),
            },
        )
        .expect("a TLS client");
        wait_for(
            "the TLS redis-server to answer PING",
            Duration::from_secs(20),
            || {
                client
                    .get_connection_with_timeout(Duration::from_millis(500))
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok()
            },
        );
        server
    }

    /// `rediss://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }

    /// The server with the right CA and client certificate.
    pub fn server(&self, pki: &Pki) -> Server {
        Server::new(self.url()).tls(pki.client_tls())
    }
}

impl Drop for TlsRedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The certificates a node process is given on its command line:
/// `tls_ca=`, `tls_cert=` and `tls_key=` (paths), each optional.
pub fn node_tls_args(
    ca: Option<&Path>,
    client: Option<(&Path, &Path)>,
) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    if let Some(ca) = ca {
        pairs.push(("tls_ca", ca.display().to_string()));
    }
    if let Some((cert, key)) = client {
        pairs.push(("tls_cert", cert.display().to_string()));
        pairs.push(("tls_key", key.display().to_string()));
    }
    pairs
}

/// The server a node process is told about: `url=`, and the certificates
/// of [`node_tls_args`] when given.
pub fn node_server(get: &dyn Fn(&str, &str) -> String) -> Server {
    let server = Server::new(get("url", "redis://127.0.0.1/"));
    let (ca, cert, key) = (get("tls_ca", ""), get("tls_cert", ""), get("tls_key", ""));
    if ca.is_empty() && cert.is_empty() {
        return server;
    }
    let mut tls = Tls::new();
    if !ca.is_empty() {
        tls = tls.ca_file(ca).expect("read tls_ca");
    }
    if !cert.is_empty() {
        tls = tls
            .client_files(cert, key)
            .expect("read tls_cert and tls_key");
    }
    server.tls(tls)
}

//! Certificates for the TLS tests, made with the `openssl` CLI.

/// A CA and a server certificate for `127.0.0.1` it signed, made with the `openssl` CLI.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA certificate (PEM).
    pub ca: String,
    /// The server certificate (PEM).
    pub cert: String,
    /// The server's private key (PKCS#8 PEM).
    pub key: String,
    /// A client certificate the CA signed (PEM).
    pub client_cert: String,
    /// Its private key (PKCS#8 PEM).
    pub client_key: String,
}

/// Makes [`TestCerts`]; `None` when openssl is not installed.
pub fn test_certs() -> Option<TestCerts> {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()
            .is_some_and(|s| s.success())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ok = openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=backlot test CA",
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.pem"),
            ],
        ]
        .concat(),
    ) && openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &p("key.pem"),
                "-out",
                &p("req.csr"),
            ],
        ]
        .concat(),
    ) && {
        std::fs::write(
            p("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p("req.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("ext.cnf"),
            "-out",
            &p("cert.pem"),
        ])
    } && openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=backstage",
                "-keyout",
                &p("client.key"),
                "-out",
                &p("client.csr"),
            ],
        ]
        .concat(),
    ) && {
        std::fs::write(
            p("client.cnf"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p("client.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("client.cnf"),
            "-out",
            &p("client.pem"),
        ])
    };
    if !ok {
        return None;
    }
    let read = |n: &str| std::fs::read_to_string(p(n)).unwrap();
    Some(TestCerts {
        ca: read("ca.pem"),
        cert: read("cert.pem"),
        key: read("key.pem"),
        client_cert: read("client.pem"),
        client_key: read("client.key"),
    })
}

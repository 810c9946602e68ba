//! Certificates for development and tests (rcgen): a CA, a server certificate for the given
//! host names and addresses, and client certificates whose subjects are `CN=<name>,O=Odradek dev`.
//! Never for production: the keys are unencrypted PEM.
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its unencrypted PKCS#8 key, PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

pub struct DevPki {
    pub ca: Pem,
    pub server: Pem,
    /// (name, certificate) per client.
    pub clients: Vec<(String, Pem)>,
}

fn e(x: rcgen::Error) -> String {
    x.to_string()
}

/// A fresh CA, a server certificate for `hosts`, and one client certificate per name.
pub fn generate(hosts: &[String], clients: &[&str]) -> Result<DevPki, String> {
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params.distinguished_name.push(DnType::OrganizationName, "Odradek dev");
    ca_params.distinguished_name.push(DnType::CommonName, "Odradek development CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(e)?;
    let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| -> Result<Pem, String> {
        let key = KeyPair::generate().map_err(e)?;
        let mut p = CertificateParams::new(sans).map_err(e)?;
        // Most general first, as certificates conventionally are: RFC 2253 text (what Kafka
        // principals are made of) then reads CN=<name>,O=Odradek dev.
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::OrganizationName, "Odradek dev");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let c = p.signed_by(&key, &ca).map_err(e)?;
        Ok(Pem { cert: c.pem(), key: key.serialize_pem() })
    };
    let server = leaf(
        hosts.to_vec(),
        hosts.first().map(String::as_str).unwrap_or("localhost"),
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let mut out = Vec::new();
    for c in clients {
        out.push((c.to_string(), leaf(Vec::new(), c, ExtendedKeyUsagePurpose::ClientAuth)?));
    }
    Ok(DevPki { ca: Pem { cert: ca.pem(), key: ca_key_pem }, server, clients: out })
}

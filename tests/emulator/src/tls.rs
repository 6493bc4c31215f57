//! The emulator's certificates.
//!
//! The product speaks https only, as Azure does, so the emulator must too. At start it makes a
//! throw-away CA and a `localhost`/`127.0.0.1` server certificate signed by it; clients trust the
//! CA's PEM the same way operators add a corporate CA. A separate leaf is needed because rustls
//! (webpki) refuses a CA certificate presented as a server certificate.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// PEM material for one emulator process.
pub(crate) struct TlsMaterial {
    /// The CA certificate clients should trust.
    pub(crate) ca_pem: String,
    /// The server certificate chain (leaf, then CA).
    pub(crate) chain_pem: String,
    /// The server certificate's private key (PKCS#8).
    pub(crate) key_pem: String,
}

/// Generates the CA and a server certificate for `localhost`, `127.0.0.1` and `extra_names`
/// (host names the emulator is reached by, e.g. `azure-emulator` inside a compose network).
pub(crate) fn generate(extra_names: &[String]) -> anyhow::Result<TlsMaterial> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Azure Emulator Test CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "azure-emulator");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().context("CA key")?;
    let ca_cert = ca_params.self_signed(&ca_key).context("CA certificate")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned()]).context("server parameters")?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    for name in extra_names
        .iter()
        .filter(|n| !n.is_empty() && *n != "localhost")
    {
        let san = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.clone()
                    .try_into()
                    .with_context(|| format!("{name:?} is not a DNS name"))?,
            ),
        };
        leaf_params.subject_alt_names.push(san);
    }
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().context("server key")?;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .context("server certificate")?;

    let ca_pem = ca_cert.pem();
    Ok(TlsMaterial {
        chain_pem: format!("{}{}", leaf_cert.pem(), ca_pem),
        ca_pem,
        key_pem: leaf_key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn makes_pem() {
        let material = super::generate(&["azure-emulator".to_string(), "10.0.0.5".to_string()])
            .expect("certificates");
        assert!(material.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(material.chain_pem.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(material.key_pem.contains("PRIVATE KEY"));
    }
}

"""A small PKI for l2pop: one CA, a server certificate, one client certificate per host.

Enough for a lab, a test or a first deployment; an operator with a PKI of
their own issues the same three kinds of certificate from it (docs/security.md
shows the openssl commands). Keys are ECDSA P-256: small, and fast to make,
so the lab can afford a fresh CA every run.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from l2pop.errors import ValidationError
from l2pop.secretfile import write_secret

__all__ = ["CA_DAYS", "LEAF_DAYS", "Issued", "issue", "load_ca", "make_ca"]

CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers once capped server certificates at; rotate before


@dataclass(frozen=True, slots=True)
class Issued:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "l2pop"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(out: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / f"{stem}.pem", out / f"{stem}.key"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret(key_path, pem.decode())
    # Written after the key: a watcher that reloads on the certificate's change
    # then finds the matching key already in place.
    tmp = cert_path.with_suffix(".pem.tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp.replace(cert_path)
    return Issued(cert_path, key_path)


def _validity(days: int) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    # An hour of slack for clocks that disagree a little.
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_ca(out: Path, name: str = "l2pop CA", days: int = CA_DAYS) -> Issued:
    """A self-signed CA in ``out/ca.pem`` and ``out/ca.key`` (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _validity(days)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(out, "ca", cert, key)


def load_ca(out: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((out / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ValidationError("CA", str(out), f"no usable ca.pem/ca.key there: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValidationError("CA", str(out), "ca.key is not an EC key made by l2pop pki")
    return cert, key


def _split_names(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def issue(
    out: Path,
    stem: str,
    names: Sequence[str],
    *,
    server: bool,
    days: int = LEAF_DAYS,
) -> Issued:
    """A certificate signed by the CA in ``out``: CN = ``names[0]``, every name (DNS
    name or IP address) in the subjectAltName; a server certificate (``server``) or
    a host's client certificate. Written to ``out/<stem>.pem`` and ``.key``."""
    if not names:
        raise ValidationError("names", "", "a certificate needs at least one name")
    ca_cert, ca_key = load_ca(out)
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _validity(days)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_split_names(names)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _write(out, stem, cert, key)

"""Images with real, signed C2PA manifests for the tests, made with c2pa-python's Builder and a
throwaway certificate chain (a test CA and an ES256 signer made here; readers report it as
untrusted, which is what any file from an unknown signer is)."""

from __future__ import annotations

import datetime
import io
import json
from functools import cache
from typing import Any

import pytest
from PIL import Image

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@cache
def _chain() -> tuple[bytes, bytes]:
    """(certificate chain PEM, private key PEM) of a test signer under a test CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cdir tests"),
            ]
        )

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("cdir test CA"))
        .issuer_name(name("cdir test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("cdir test signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        cert.public_bytes(pem) + ca.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def manifest(tool: str, actions: list[dict[str, Any]], claim_version: int = 2) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": tool, "version": "1.0"}],
        "title": "image",
        "claim_version": claim_version,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


def signed(
    definition: dict[str, Any],
    fmt: str = "PNG",
    image: Image.Image | None = None,
    parent: bytes | None = None,
    pnginfo: Any = None,
) -> bytes:
    """``image`` (a small picture by default) as ``fmt`` bytes with the manifest ``definition``
    signed in; ``parent``: the bytes of a signed ``fmt`` file that this one is an edit of."""
    c2pa = pytest.importorskip("c2pa")
    source = io.BytesIO()
    (image or Image.new("RGB", (48, 32), (190, 60, 40))).save(
        source, fmt, **({"pnginfo": pnginfo} if pnginfo is not None else {})
    )
    source.seek(0)
    out = io.BytesIO()
    chain, key = _chain()
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key, ta_url=None)
    )
    with c2pa.Builder(json.dumps(definition)) as builder:
        if parent is not None:
            builder.add_ingredient(
                json.dumps({"title": "parent", "relationship": "parentOf"}),
                MIME[fmt],
                io.BytesIO(parent),
            )
        builder.sign(signer, MIME[fmt], source, out)
    return out.getvalue()

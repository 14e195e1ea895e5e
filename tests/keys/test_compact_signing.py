"""sign_compact: tokens that independent JOSE libraries accept, and no signing under a wrong alg."""

from __future__ import annotations

import base64

import jwt
import orjson
import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from tokensmith.keys.compact_signing import sign_compact
from tokensmith.keys.material import SigningKey

PAYLOAD = {"iss": "https://issuer.example", "sub": "alice", "aud": "https://api", "exp": 4102444800}


def signing_key(algorithm: str, curve: str) -> SigningKey:
    key = ECKey.generate_key(curve, auto_kid=True)
    return SigningKey(kid=key.kid or key.thumbprint(), algorithm=algorithm, key=key)


@pytest.mark.parametrize(
    ("algorithm", "curve", "signature_bytes"),
    [("ES256", "P-256", 64), ("ES384", "P-384", 96), ("ES512", "P-521", 132)],
)
def test_signed_tokens_verify_with_joserfc_and_pyjwt(algorithm, curve, signature_bytes):
    key = signing_key(algorithm, curve)
    header = {"alg": algorithm, "kid": key.kid, "typ": "at+jwt"}
    token = sign_compact(header, orjson.dumps(PAYLOAD), key)

    verified = jws.deserialize_compact(token, key.key, algorithms=[algorithm])
    assert orjson.loads(verified.payload) == PAYLOAD
    assert verified.protected == header
    public_pem = key.key.as_pem(private=False)
    assert jwt.decode(token, public_pem, algorithms=[algorithm], audience="https://api") == PAYLOAD
    assert jwt.get_unverified_header(token) == header
    signature = token.rsplit(".", 1)[1]
    # RFC 7518 section 3.4: r || s, each as long as the curve's order, not DER.
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == signature_bytes


def test_every_signature_is_fresh_and_a_changed_payload_fails():
    key = signing_key("ES256", "P-256")
    header = {"alg": "ES256", "kid": key.kid}
    first = sign_compact(header, orjson.dumps(PAYLOAD), key)
    assert sign_compact(header, orjson.dumps(PAYLOAD), key) != first  # ECDSA is randomised
    head, _payload, signature = first.split(".")
    forged_payload = base64.urlsafe_b64encode(orjson.dumps({**PAYLOAD, "sub": "mallory"}))
    forged = f"{head}.{forged_payload.decode().rstrip('=')}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            forged, key.key.as_pem(private=False), algorithms=["ES256"], audience="https://api"
        )


@pytest.mark.parametrize("alg", ["none", "HS256", "ES384", None])
def test_refuses_a_header_whose_alg_is_not_the_keys(alg):
    key = signing_key("ES256", "P-256")
    header = {"kid": key.kid} if alg is None else {"alg": alg, "kid": key.kid}
    with pytest.raises(ValueError, match="cannot sign"):
        sign_compact(header, orjson.dumps(PAYLOAD), key)


def test_refuses_a_public_key():
    private = signing_key("ES256", "P-256")
    public = ECKey.import_key(private.key.as_dict(private=False))
    key = SigningKey(kid=private.kid, algorithm="ES256", key=public)
    with pytest.raises(ValueError, match="no private part"):
        sign_compact({"alg": "ES256"}, b"{}", key)

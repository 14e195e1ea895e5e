"""DpopProofValidator (RFC 9449 section 4.3): every check, against a real grant store."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey
from starlette.datastructures import Headers

from tests.dpop.proofs import make_proof, new_key, unsigned_proof
from tokensmith.dpop import DpopNonces, DpopProofValidator, InvalidDpopProof, UseDpopNonce
from tokensmith.stores.sql.grants import SqlGrantStore

URL = "https://as.example.test/token"
SECRET = b"k" * 32
# Checks that never reach the store run on SQLite only; the replay checks run on both.
SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def validator(engine):
    return DpopProofValidator(
        SqlGrantStore(engine), ["ES256", "RS256"], lifetime=300, nonces=DpopNonces(lambda: SECRET)
    )


async def refused(validator, proof, *, method="POST", url=URL, access_token=None, match=None):
    with pytest.raises(InvalidDpopProof, match=match) as caught:
        await validator.check(proof, method, url, access_token=access_token)
    assert caught.value.error == "invalid_dpop_proof"
    assert caught.value.status_code == 400


async def test_a_valid_proof_gives_the_key_thumbprint(validator):
    key = new_key()
    proof = await validator.check(make_proof(key, "POST", URL), "POST", URL)
    assert proof.jkt == key.thumbprint()


@SQLITE_ONLY
async def test_no_header_is_no_proof_and_two_headers_are_refused(validator):
    key = new_key()
    assert await validator.validate(Headers({}), "POST", URL) is None
    two = Headers(raw=[(b"dpop", make_proof(key, "POST", URL).encode())] * 2)
    with pytest.raises(InvalidDpopProof, match="exactly one"):
        await validator.validate(two, "POST", URL)


@SQLITE_ONLY
async def test_the_url_comparison_ignores_query_case_and_default_port(validator):
    key = new_key()
    htu = "HTTPS://AS.example.test:443/token?x=1#f"
    assert (await validator.check(make_proof(key, "POST", htu), "POST", URL)).jkt


@SQLITE_ONLY
@pytest.mark.parametrize("value", ["", "not-a-jws", "a.b.c", "é.é.é"])
async def test_garbage_is_refused(validator, value):
    await refused(validator, value)


@SQLITE_ONLY
async def test_wrong_typ_is_refused(validator):
    proof = make_proof(new_key(), "POST", URL, header={"typ": "JWT"})
    await refused(validator, proof, match="typ")


@SQLITE_ONLY
async def test_alg_none_is_refused(validator):
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": new_key().as_dict(private=False)}
    await refused(validator, unsigned_proof(header, htu=URL).rstrip("sig"), match="alg")


@SQLITE_ONLY
async def test_hs256_is_refused(validator):
    secret = OctKey.generate_key(256)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict()}
    payload = {"jti": "j", "htm": "POST", "htu": URL, "iat": int(time.time())}
    proof = jws.serialize_compact(header, orjson.dumps(payload), secret, algorithms=["HS256"])
    await refused(validator, proof, match="alg")


@SQLITE_ONLY
async def test_an_allowed_alg_that_is_not_configured_is_refused(validator):
    key = ECKey.generate_key("P-384")
    await refused(validator, make_proof(key, "POST", URL, header={"alg": "ES384"}), match="alg")


@SQLITE_ONLY
async def test_a_private_key_in_the_jwk_header_is_refused(validator):
    key = new_key()
    proof = make_proof(key, "POST", URL, header={"jwk": key.as_dict(private=True)})
    await refused(validator, proof, match="private key")


@SQLITE_ONLY
@pytest.mark.parametrize("jwk", [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "oct"}, "x", None])
async def test_a_symmetric_or_missing_jwk_is_refused(validator, jwk):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    await refused(validator, unsigned_proof(header, htu=URL), match="jwk")


@SQLITE_ONLY
async def test_a_signature_by_another_key_is_refused(validator):
    other = new_key()
    proof = make_proof(new_key(), "POST", URL, header={"jwk": other.as_dict(private=False)})
    await refused(validator, proof, match="signature")


@SQLITE_ONLY
async def test_a_short_rsa_key_is_refused(validator):
    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    modulus = numbers.n.to_bytes(128, "big")
    jwk = {"kty": "RSA", "e": "AQAB", "n": base64.urlsafe_b64encode(modulus).decode().rstrip("=")}
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk}
    await refused(validator, unsigned_proof(header, htu=URL), match="2048")


@SQLITE_ONLY
async def test_a_2048_bit_rsa_key_is_accepted(validator):
    key = RSAKey.generate_key(2048)
    proof = make_proof(key, "POST", URL, header={"alg": "RS256"})
    assert (await validator.check(proof, "POST", URL)).jkt == key.thumbprint()


@SQLITE_ONLY
async def test_htm_mismatch_is_refused(validator):
    await refused(validator, make_proof(new_key(), "GET", URL), match="htm")


@pytest.mark.parametrize(
    "htu",
    [
        "https://as.example.test/userinfo",
        "http://as.example.test/token",
        "https://evil.example.test/token",
        "https://as.example.test:8443/token",
        "https://user@as.example.test/token",
        "/token",
    ],
)
@SQLITE_ONLY
async def test_htu_mismatch_is_refused(validator, htu):
    await refused(validator, make_proof(new_key(), "POST", htu), match="htu")


@SQLITE_ONLY
async def test_a_stale_proof_is_refused(validator):
    proof = make_proof(new_key(), "POST", URL, iat=int(time.time()) - 3600)
    await refused(validator, proof, match="too old")


@SQLITE_ONLY
async def test_a_proof_from_the_future_is_refused(validator):
    proof = make_proof(new_key(), "POST", URL, iat=int(time.time()) + 3600)
    await refused(validator, proof, match="future")


@SQLITE_ONLY
@pytest.mark.parametrize("claims", [{"iat": "now"}, {"iat": True}, {"jti": ""}, {"jti": 7}])
async def test_malformed_claims_are_refused(validator, claims):
    await refused(validator, make_proof(new_key(), "POST", URL, **claims))


async def test_a_replayed_proof_is_refused(engine, validator):
    proof = make_proof(new_key(), "POST", URL)
    await validator.check(proof, "POST", URL)
    await refused(validator, proof, match="already used")
    # Another validator (another process) over the same store refuses it too.
    other = DpopProofValidator(
        SqlGrantStore(engine), ["ES256"], lifetime=300, nonces=DpopNonces(lambda: SECRET)
    )
    await refused(other, proof, match="already used")


async def test_the_same_jti_under_another_key_is_not_a_replay(validator):
    await validator.check(make_proof(new_key(), "POST", URL, jti="shared"), "POST", URL)
    await validator.check(make_proof(new_key(), "POST", URL, jti="shared"), "POST", URL)


@SQLITE_ONLY
async def test_ath_is_required_and_checked_with_an_access_token(validator):
    key = new_key()
    await refused(
        validator, make_proof(key, "GET", URL), method="GET", access_token="tok", match="ath"
    )
    wrong = make_proof(key, "GET", URL, access_token="another")
    await refused(validator, wrong, method="GET", access_token="tok", match="ath")
    good = make_proof(key, "GET", URL, access_token="tok")
    assert (await validator.check(good, "GET", URL, access_token="tok")).jkt == key.thumbprint()


async def test_a_required_nonce_must_be_present_and_ours(engine):
    now = [1_800_000_000.0]
    nonces = DpopNonces(lambda: SECRET, clock=lambda: now[0])
    validator = DpopProofValidator(
        SqlGrantStore(engine), ["ES256"], 300, nonces, require_nonce=True, clock=lambda: now[0]
    )
    key = new_key()
    iat = int(now[0])
    for proof in (
        make_proof(key, "POST", URL, iat=iat),
        make_proof(key, "POST", URL, iat=iat, nonce="made-up"),
        make_proof(key, "POST", URL, iat=iat, nonce=DpopNonces(lambda: b"x" * 32).current()),
    ):
        with pytest.raises(UseDpopNonce) as caught:
            await validator.check(proof, "POST", URL)
        assert caught.value.error == "use_dpop_nonce"
        assert caught.value.headers["DPoP-Nonce"] == nonces.current()
    assert await validator.check(
        make_proof(key, "POST", URL, iat=iat, nonce=nonces.current()), "POST", URL
    )
    # A nonce stays good into the next time step, and no longer.
    nonce = nonces.current()
    now[0] += 150
    iat = int(now[0])
    assert await validator.check(make_proof(key, "POST", URL, iat=iat, nonce=nonce), "POST", URL)
    now[0] += 300
    with pytest.raises(UseDpopNonce):
        await validator.check(
            make_proof(key, "POST", URL, iat=int(now[0]), nonce=nonce), "POST", URL
        )


def test_nonces_agree_across_instances_with_the_same_secret():
    clock = lambda: 1_800_000_000.0  # noqa: E731
    first, second = DpopNonces(lambda: SECRET, clock), DpopNonces(lambda: SECRET, clock)
    assert first.current() == second.current()
    assert second.is_valid(first.current())
    assert not DpopNonces(lambda: b"other" * 8, clock).is_valid(first.current())


@SQLITE_ONLY
@pytest.mark.parametrize(
    "header",
    [
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": ["EC"]}},
        {"typ": "dpop+jwt", "alg": ["ES256"], "jwk": {"kty": "EC"}},
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": 5, "x": [], "y": {}}},
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256"}},
        {"typ": "dpop+jwt", "alg": "RS256", "jwk": {"kty": "RSA", "n": 7, "e": "AQAB"}},
        {"typ": "dpop+jwt", "alg": "RS256", "jwk": {"kty": "RSA", "n": "***", "e": "AQAB"}},
        {"typ": ["dpop+jwt"], "alg": "ES256"},
    ],
)
async def test_malformed_headers_are_refused_not_crashed_on(validator, header):
    await refused(validator, unsigned_proof(header, htu=URL))

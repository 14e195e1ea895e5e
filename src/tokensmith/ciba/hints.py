"""Which user a backchannel request is for: its login_hint or id_token_hint.

CIBA Core 1.0 section 7.1: "it is REQUIRED that the Client provides one
(and only one) of the hints" ``login_hint_token``, ``id_token_hint`` and
``login_hint``. tokensmith reads
``login_hint`` as a username and ``id_token_hint`` as an ID Token it issued
to this client (an expired one is still a good hint).

CIBA leaves the format of ``login_hint_token`` open. tokensmith takes a JWT
signed by one of the ``[[trusted_issuers]]`` (the same check as the JWT bearer
grant, RFC 7523 section 3: trusted ``iss``, our identity in ``aud``, ``exp``)
whose ``sub`` is the subject id of one of our users: the shape in which an
identity provider that already knows the user vouches for them. Without
trusted issuers configured, every login_hint_token is refused.
"""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError

from tokensmith._types import FormData
from tokensmith.errors import ExpiredLoginHintToken, InvalidRequest, UnknownUserId
from tokensmith.keys.manager import KeyManager
from tokensmith.models.client import Client
from tokensmith.models.user import User
from tokensmith.stores.protocols import UserStore
from tokensmith.tokens.creation import ACCESS_TOKEN_JWT_TYPE
from tokensmith.tokens.profile_service import ProfileService
from tokensmith.trust import ExpiredJwt, TrustedIssuers, UntrustedToken

HINTS = ("login_hint_token", "id_token_hint", "login_hint")


class UserHints:
    def __init__(
        self,
        issuer: str,
        keys: KeyManager,
        users: UserStore,
        profile_service: ProfileService,
        trusted: TrustedIssuers,
    ):
        self._issuer = issuer
        self._keys = keys
        self._users = users
        self._profile_service = profile_service
        self._trusted = trusted

    async def find_user(self, form: FormData, client: Client) -> User:
        """The active user the one hint names; raises invalid_request or unknown_user_id."""
        given = [name for name in HINTS if name in form]
        # Section 7.2: with more than one hint, the OP "MUST return an
        # "invalid_request" error response".
        if len(given) != 1:
            raise InvalidRequest("send exactly one of login_hint, id_token_hint, login_hint_token")
        if "login_hint_token" in form:
            subject = self.subject_of_login_hint_token(form["login_hint_token"])
            user = await self._users.find_user_by_subject(subject)
        elif "login_hint" in form:
            user = await self._users.find_user_by_username(form["login_hint"])
        else:
            subject = self.subject_of_id_token(form["id_token_hint"], client)
            user = await self._users.find_user_by_subject(subject)
        # CIBA section 13 unknown_user_id: the OP "is not able to identify
        # which end-user the Client wishes to be authenticated".
        if user is None or not await self._profile_service.is_active(user):
            raise UnknownUserId("no active user matches the hint")
        return user

    def subject_of_login_hint_token(self, hint: str) -> str:
        """The ``sub`` of a JWT a trusted issuer signed for this server."""
        try:
            _issuer, claims = self._trusted.verify(hint)
        except ExpiredJwt:
            raise ExpiredLoginHintToken("the login_hint_token has expired") from None
        except UntrustedToken as reason:
            raise InvalidRequest(f"login_hint_token refused: {reason}") from None
        return str(claims["sub"])

    def subject_of_id_token(self, hint: str, client: Client) -> str:
        """The ``sub`` of an ID Token this server signed for ``client``; expiry is not checked."""
        try:
            token = jwt.decode(hint, self._keys.verification_keys, algorithms=self._keys.algorithms)
        except (JoseError, ValueError, TypeError):
            raise InvalidRequest("id_token_hint is not an ID Token signed by this server") from None
        claims = token.claims
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        subject = claims.get("sub")
        if (
            token.header.get("typ") == ACCESS_TOKEN_JWT_TYPE
            or claims.get("iss") != self._issuer
            or client.client_id not in audiences
            or not isinstance(subject, str)
        ):
            raise InvalidRequest("id_token_hint is not an ID Token this server issued to you")
        return subject

"""StoredUserGrant: the base of grants that redeem a stored record for a user's tokens.

The authorization code, the refresh token and the device code all look up a
record in the GrantStore, check that its user is still active, and narrow the
resources it was granted; they need the same four collaborators. Keeping the
constructor here keeps their signatures identical, which the composition root
(``composition.py``) and extensions that subclass them rely on.
"""

from __future__ import annotations

from tokensmith.stores.protocols import GrantStore, ResourceStore, UserStore
from tokensmith.tokens.profile_service import ProfileService


class StoredUserGrant:
    def __init__(
        self,
        grants: GrantStore,
        users: UserStore,
        resources: ResourceStore,
        profile_service: ProfileService,
    ):
        self._grants = grants
        self._users = users
        self._resources = resources
        self._profile_service = profile_service

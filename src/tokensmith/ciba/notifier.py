"""How the user is asked: the replaceable ``backchannel_user_notifier`` stage.

CIBA leaves it to the OpenID Provider how it reaches the user's
authentication device, out of band of the client. The stage
is called once per accepted request, after it is stored and before the
client gets its auth_req_id. Replace it to send a push message, an e-mail or
a chat prompt that links to ``/ciba/pending``. Raising an OAuthError refuses
the request (the stored request is then removed); so does any other
exception, as ``server_error``.

The default asks nobody actively: pending requests wait on the signed-in
user's ``/ciba/pending`` page and the approval API.
"""

from __future__ import annotations

import logging
from typing import Protocol

from tokensmith.ciba.records import BackchannelRequest

logger = logging.getLogger(__name__)


class BackchannelUserNotifier(Protocol):
    async def notify(self, request: BackchannelRequest) -> None: ...


class DefaultBackchannelUserNotifier:
    async def notify(self, request: BackchannelRequest) -> None:
        logger.info(
            "backchannel request %s from client %s waits for user %s on /ciba/pending",
            request.request_id,
            request.client_id,
            request.subject_id,
        )

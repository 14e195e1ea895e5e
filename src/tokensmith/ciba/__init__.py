"""Client-Initiated Backchannel Authentication (OpenID Connect CIBA Core 1.0).

The backchannel endpoint (``endpoints/backchannel_authentication.py``) stores
a request and calls the ``BackchannelUserNotifier`` stage; the user decides
on ``/ciba/pending`` or through the approval API
(``endpoints/ciba_approvals.py``); ping clients are then called back
(``ping.py``) and every client redeems the auth_req_id at the token endpoint
(``grants/ciba.py``).
"""

from tokensmith.ciba.notifier import BackchannelUserNotifier, DefaultBackchannelUserNotifier
from tokensmith.ciba.ping import PingDelivery
from tokensmith.ciba.records import BackchannelRequest
from tokensmith.ciba.store import BackchannelRequestStore, NewRequest, PingTarget, RequestStatus

__all__ = [
    "BackchannelRequest",
    "BackchannelRequestStore",
    "BackchannelUserNotifier",
    "DefaultBackchannelUserNotifier",
    "NewRequest",
    "PingDelivery",
    "PingTarget",
    "RequestStatus",
]

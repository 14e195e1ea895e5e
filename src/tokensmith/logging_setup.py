"""How ``tokensmith serve`` logs: uvicorn's set-up, plus the audit log as JSON lines."""

from __future__ import annotations

import copy
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from tokensmith.audit import AUDIT_LOGGER_NAME
from tokensmith.line_log import BatchedLineHandler, LineFormatter

__all__ = ["log_config"]


def log_config(*, audit: bool) -> dict[str, Any]:
    """uvicorn's logging, plus the audit logger: one JSON object per line on stdout.

    uvicorn configures only its own loggers; without this the audit events
    (INFO) would reach Python's last-resort handler, which prints WARNING and up.
    Passed as uvicorn's ``log_config``, so every worker process applies it too.
    """
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    # A LineFormatter lets audit events skip the LogRecord (line_log.py).
    config["formatters"]["audit"] = {"()": LineFormatter}
    config["handlers"]["audit"] = {
        "formatter": "audit",
        "()": BatchedLineHandler,
        "stream": "ext://sys.stdout",
    }
    config["loggers"][AUDIT_LOGGER_NAME] = {
        "handlers": ["audit"],
        "level": "INFO" if audit else "WARNING",
        "propagate": False,
    }
    return config

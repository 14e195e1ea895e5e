"""A deployment that registers stages from Python, run as ``python -m custom_app serve``.

It mirrors what a user writes: build Settings, pass Services to create_app,
serve with uvicorn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from custom_stages import CustomTokenCreationService, TenantResponseGenerator

from tokensmith import Services, Settings, create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings.load(args.config, port=args.port)
    services = Services(
        token_creation=CustomTokenCreationService,
        token_response_generator=TenantResponseGenerator,
    )
    uvicorn.run(create_app(settings, services), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()

"""The schema: one SQLAlchemy Core table per stored record type."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("client_name", String(200), nullable=True),
    Column("token_endpoint_auth_method", String(64), nullable=False),
    Column("secret_hashes", JSON, nullable=False),
    Column("grant_types", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("redirect_uris", JSON, nullable=False),
    Column("access_token_format", String(16), nullable=True),
    Column("access_token_lifetime", Integer, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Integer, nullable=False),
    # Every other Client field (see stores/sql/client_rows.py); NULL in rows from before 0003,
    # which the columns above describe completely.
    Column("client_metadata", JSON, nullable=True),
    # The client_secret_jwt HMAC key, encrypted with the key-encryption key.
    Column("encrypted_hmac_key", LargeBinary, nullable=True),
    Column("updated_at", Integer, nullable=True),
)

api_resources = Table(
    "api_resources",
    metadata,
    Column("audience", String(500), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("scopes", JSON, nullable=False),
    Column("access_token_format", String(16), nullable=False),
    Column("introspecting_clients", JSON, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

record_versions = Table(
    "record_versions",
    metadata,
    # One row per cached record kind ("clients", "api_resources"), bumped on every write,
    # so that other processes notice a change with one primary-key read.
    Column("kind", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(128), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("encrypted_private_key", LargeBinary, nullable=False),
    Column("created_at", Integer, nullable=False),
    # Unused since the lifecycle columns below; kept so older databases stay valid.
    Column("status", String(16), nullable=False, default="active"),
    # The lifecycle (see keys/lifecycle.py); NULL in rows from before rotation.
    Column("activates_at", Integer, nullable=True),
    Column("retired_at", Integer, nullable=True),
    Column("remove_after", Integer, nullable=True),
    Column("succeeds", String(128), nullable=True),
    Index("signing_keys_succeeds", "succeeds", unique=True),
)

users = Table(
    "users",
    metadata,
    Column("subject_id", String(64), primary_key=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("email", String(320), nullable=True),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("password_hash", String(256), nullable=True),
    Column("profile", JSON, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("custom_data", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("client_id", String(200), nullable=True),
    Column("subject_id", String(64), nullable=True),
    Column("family_id", String(64), nullable=True),
    Column("session_id", String(64), nullable=True),
    Column("data", JSON, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("consumed_at", Integer, nullable=True),
    Column("revoked_at", Integer, nullable=True),
    Index("ix_grants_family_id", "family_id"),
    Index("ix_grants_expires_at", "expires_at"),
)

claim_scripts = Table(
    "claim_scripts",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("source", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    # "<counter prefix>:<window number>:<key>"; keys over 200 characters are hashed first.
    Column("key", String(300), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_rate_limit_counters_expires_at", "expires_at"),
)

"""Reading configured rates, and refusing what is not one."""

from __future__ import annotations

import pytest

from tokensmith.ratelimit import Rate, parse_rate
from tokensmith.settings import ConfigError, Settings


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("30/minute", Rate(30, 60)),
        ("300/second", Rate(300, 1)),
        ("100/10s", Rate(100, 10)),
        ("5 / 2 minutes", Rate(5, 120)),
        ("1000/hour", Rate(1000, 3600)),
        ("2/day", Rate(2, 86400)),
        ("OFF", None),
        ("off", None),
    ],
)
def test_parse_rate_reads_count_and_window(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "30", "lots", "30/fortnight", "0/minute", "10/0s", "-1/s"])
def test_parse_rate_rejects_what_is_not_a_rate(text):
    with pytest.raises(ValueError, match=r"rate|at least 1"):
        parse_rate(text)


def test_a_bad_rate_in_the_config_file_stops_start_up_naming_the_key(tmp_path):
    config = tmp_path / "tokensmith.toml"
    config.write_text('[rate_limits]\nlogin_per_address = "many"\n')
    with pytest.raises(ConfigError, match=r"rate_limits\.login_per_address"):
        Settings.load(config)


def test_defaults_limit_guessing_but_not_the_token_endpoint():
    limits = Settings().rate_limits
    assert limits.enabled
    assert parse_rate(limits.login_per_address) == Rate(30, 60)
    assert parse_rate(limits.device_verification_per_address) == Rate(30, 60)
    assert parse_rate(limits.token_per_client) is None
    assert parse_rate(limits.token_per_address) is None

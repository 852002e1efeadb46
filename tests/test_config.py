"""Settings from the environment: defaults, each variable, refusals that name it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployd.config import Settings, ignored
from deployd.errors import ConfigError


def test_an_empty_environment_gives_the_original_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.port == 3000, "PORT defaults to 3000"
    assert settings.ip == "0.0.0.0", "IP defaults to all interfaces"
    assert settings.url == "http://127.0.0.1:3000", "URL defaults to the local port"
    assert not settings.url_set, "an unset URL is known to be a default"
    assert settings.script_timeout == 300, "SCRIPT_TIMEOUT defaults to 300 s"
    assert not settings.behind_proxy, "X-Forwarded-For is not believed by default"
    assert not settings.disable_index_page, "the index page is shown by default"
    assert settings.data_dir == Path("data"), "DATA_DIR defaults to ./data"
    assert settings.log_format is None, "the log format follows the terminal"
    assert settings.max_engine_operations == 8, "engine operations default to 8"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "URL": "https://deploy.example.com/",
            "PORT": "8080",
            "IP": "127.0.0.1",
            "BEHIND_PROXY": "true",
            "DISABLE_INDEX_PAGE": "TRUE",
            "SCRIPT_TIMEOUT": "900",
            "WORKERS": "4",
            "DATA_DIR": "/srv/deployd",
            "DOCKER_HOST": "unix:///run/docker.sock",
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "console",
            "MAX_ENGINE_OPERATIONS": "3",
            "START_WAIT": "2.5",
            "HEALTH_TIMEOUT": "30",
            "SHUTDOWN_GRACE": "10",
        }
    )

    assert settings == Settings(
        url="https://deploy.example.com",
        url_set=True,
        port=8080,
        ip="127.0.0.1",
        behind_proxy=True,
        disable_index_page=True,
        script_timeout=900,
        workers=4,
        data_dir=Path("/srv/deployd"),
        docker_host="unix:///run/docker.sock",
        log_level="debug",
        log_format="console",
        max_engine_operations=3,
        start_wait=2.5,
        health_timeout=30.0,
        shutdown_grace=10.0,
    ), "each variable lands in its setting, the URL without its trailing slash"


def test_the_default_url_follows_the_port() -> None:
    assert Settings.from_env({"PORT": "4000"}).url == "http://127.0.0.1:4000", (
        "without URL the helpers point at the port deployd listens on"
    )


def test_empty_values_count_as_unset() -> None:
    assert Settings.from_env({"PORT": "", "URL": "  "}) == Settings(), (
        "an empty variable keeps the default, as in the original"
    )


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("PORT", "http", "whole number"),
        ("PORT", "70000", "1 to 65535"),
        ("PORT", "0", "1 to 65535"),
        ("IP", "localhost", "IP address"),
        ("URL", "deploy.example.com", "base URL"),
        ("URL", "https://x.example/$(id)", "quotes or spaces"),
        ("BEHIND_PROXY", "maybe", "true or false"),
        ("DISABLE_INDEX_PAGE", "2", "true or false"),
        ("SCRIPT_TIMEOUT", "-1", "a positive whole number of seconds, such as 300"),
        ("SCRIPT_TIMEOUT", "0", "a positive whole number of seconds, such as 300"),
        ("WORKERS", "0", "a positive whole number, such as 1"),
        ("WORKERS", "abc", "a positive whole number, such as 1"),
        ("MAX_ENGINE_OPERATIONS", "-3", "a positive whole number, such as 8"),
        ("LOG_LEVEL", "loud", "debug, info, warning, error"),
        ("LOG_FORMAT", "xml", "json, console"),
        ("DOCKER_HOST", "/var/run/docker.sock", "unix://"),
        ("START_WAIT", "soon", "seconds from 0 up to 86400"),
        ("START_WAIT", "-1", "seconds from 0 up to 86400"),
        ("HEALTH_TIMEOUT", "0", "seconds above 0 up to 86400, such as 120"),
        ("HEALTH_TIMEOUT", "nan", "seconds above 0"),
        ("SHUTDOWN_GRACE", "1e9", "from 0 up to 86400"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_what_it_allows(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({name: value})

    assert refused.value.message.startswith(f"{name}={value!r}"), (
        "the message names the variable and the value given"
    )
    assert allowed in refused.value.message, "the message says what is allowed"


def test_zero_waits_are_allowed_where_they_make_sense() -> None:
    settings = Settings.from_env({"START_WAIT": "0", "SHUTDOWN_GRACE": "0"})

    assert (settings.start_wait, settings.shutdown_grace) == (0, 0), (
        "no start wait and no grace are valid choices"
    )


def test_sentry_dsn_is_accepted_and_reported_as_ignored() -> None:
    assert set(ignored({"SENTRY_DSN": "https://key@sentry.example/1"})) == {
        "SENTRY_DSN"
    }, "a variable of the original deployd does not use is named as ignored"
    assert ignored({}) == {}, "nothing is reported when nothing is set"


@given(
    st.dictionaries(st.sampled_from(["PORT", "SCRIPT_TIMEOUT", "WORKERS"]), st.text())
)
def test_numbers_either_parse_or_raise_config_error(env: dict[str, str]) -> None:
    try:
        settings = Settings.from_env(env)
    except ConfigError:
        return
    assert settings.port >= 1, "a parsed port is a real port"
    assert settings.script_timeout >= 1, "a parsed timeout is positive"

"""Settings from the environment: secured Kafka and Redis, the checks across fields, and
that no secret ever shows in a repr or an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import Settings, SettingsError, masked_url
from tests.pem_files import PemFiles

SECRET = "s3cr3t-Pa55"
"""Every password in these tests: no message or repr may contain it."""


def sasl_ssl(pem_files: PemFiles, **extra: str) -> dict[str, str]:
    """A complete managed-Kafka style environment (SASL_SSL with SCRAM and a private CA)."""
    return {
        "SCORESTREAM_KAFKA_BOOTSTRAP": "broker-1.example.com:9096,broker-2.example.com:9096",
        "SCORESTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SCORESTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SCORESTREAM_KAFKA_USERNAME": "scorestream",
        "SCORESTREAM_KAFKA_PASSWORD": SECRET,
        "SCORESTREAM_KAFKA_CA_FILE": str(pem_files.ca),
        **extra,
    }


def problems(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    text = str(info.value)
    assert SECRET not in text
    return text


def test_defaults_are_plaintext_on_loopback() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert not settings.kafka_sasl and not settings.kafka_tls and not settings.redis_tls
    assert settings.kafka_secret is None and settings.redis_secret is None


def test_sasl_ssl_with_scram_and_a_ca(pem_files: PemFiles) -> None:
    """The managed-Kafka case is accepted; the password is kept but shown nowhere."""
    settings = Settings.from_env(sasl_ssl(pem_files))
    assert settings.kafka_sasl and settings.kafka_tls
    assert settings.kafka_secret is not None
    assert settings.kafka_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_password_file_is_read_once_without_its_newline(
    pem_files: PemFiles, tmp_path: Path
) -> None:
    secret_file = tmp_path / "kafka-password"
    secret_file.write_text(SECRET + "\n")
    env = sasl_ssl(pem_files, SCORESTREAM_KAFKA_PASSWORD_FILE=str(secret_file))
    del env["SCORESTREAM_KAFKA_PASSWORD"]
    settings = Settings.from_env(env)
    assert settings.kafka_secret is not None
    assert settings.kafka_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)


def test_mutual_tls_loads_the_certificate_and_its_key(pem_files: PemFiles) -> None:
    env = {
        "SCORESTREAM_KAFKA_SECURITY_PROTOCOL": "SSL",
        "SCORESTREAM_KAFKA_CA_FILE": str(pem_files.ca),
        "SCORESTREAM_KAFKA_CERT_FILE": str(pem_files.cert),
        "SCORESTREAM_KAFKA_KEY_FILE": str(pem_files.key),
    }
    settings = Settings.from_env(env)
    assert settings.kafka_tls and not settings.kafka_sasl
    assert settings.kafka_cert_file == pem_files.cert


def test_empty_values_mean_unset() -> None:
    """`VAR=` in an env file (or `${VAR:-}` in compose) is the same as not setting it."""
    env = {"SCORESTREAM_KAFKA_USERNAME": "", "SCORESTREAM_KAFKA_CA_FILE": ""}
    assert Settings.from_env(env).kafka_username is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"SCORESTREAM_KAFKA_SASL_MECHANISM": None, "SCORESTREAM_KAFKA_USERNAME": None},
            ["needs SCORESTREAM_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
             "needs SCORESTREAM_KAFKA_USERNAME"],
        ),
        (
            {"SCORESTREAM_KAFKA_PASSWORD": None},
            ["set SCORESTREAM_KAFKA_PASSWORD or SCORESTREAM_KAFKA_PASSWORD_FILE"],
        ),
        (
            {"SCORESTREAM_KAFKA_PASSWORD_FILE": "{ca}"},
            ["give SCORESTREAM_KAFKA_PASSWORD or SCORESTREAM_KAFKA_PASSWORD_FILE, not both"],
        ),
        (
            {"SCORESTREAM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
            ["SCORESTREAM_KAFKA_PASSWORD, SCORESTREAM_KAFKA_SASL_MECHANISM,"
             " SCORESTREAM_KAFKA_USERNAME set, but SCORESTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"
             " sends no credentials; set SCORESTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
             "SCORESTREAM_KAFKA_CA_FILE set, but SCORESTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"
             " does not use TLS; set SCORESTREAM_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"],
        ),
        (
            {"SCORESTREAM_KAFKA_SECURITY_PROTOCOL": "TLS"},
            ["SCORESTREAM_KAFKA_SECURITY_PROTOCOL='TLS': Input should be 'PLAINTEXT', 'SSL',"
             " 'SASL_PLAINTEXT' or 'SASL_SSL' (default 'PLAINTEXT')"],
        ),
        (
            {"SCORESTREAM_KAFKA_SASL_MECHANISM": "GSSAPI"},
            ["SCORESTREAM_KAFKA_SASL_MECHANISM='GSSAPI': Input should be 'PLAIN',"
             " 'SCRAM-SHA-256' or 'SCRAM-SHA-512'"],
        ),
        (
            {"SCORESTREAM_KAFKA_CA_FILE": "{missing}"},
            ["SCORESTREAM_KAFKA_CA_FILE='{missing}': no such file"],
        ),
        (
            {"SCORESTREAM_KAFKA_CA_FILE": "{directory}"},
            ["SCORESTREAM_KAFKA_CA_FILE='{directory}': is a directory, not a file"],
        ),
        (
            {"SCORESTREAM_KAFKA_CA_FILE": "{key}"},
            ["SCORESTREAM_KAFKA_CA_FILE='{key}' does not load as PEM certificates",
             "keytool -exportcert -rfc"],
        ),
        (
            {"SCORESTREAM_KAFKA_CERT_FILE": "{cert}"},
            ["mutual TLS needs both SCORESTREAM_KAFKA_CERT_FILE and SCORESTREAM_KAFKA_KEY_FILE"],
        ),
        (
            {"SCORESTREAM_KAFKA_CERT_FILE": "{cert}", "SCORESTREAM_KAFKA_KEY_FILE": "{rogue_key}"},
            ["SCORESTREAM_KAFKA_CERT_FILE and SCORESTREAM_KAFKA_KEY_FILE do not load as a PEM"
             " certificate and the unencrypted private key that belongs to it"],
        ),
        (
            {"SCORESTREAM_KAFKA_CERT_FILE": "{cert}",
             "SCORESTREAM_KAFKA_KEY_FILE": "{encrypted_key}"},
            ["the key is encrypted; decrypt it with `openssl pkey`"],
        ),
    ],
)  # fmt: skip
def test_kafka_mistakes_name_the_variable_and_the_fix(
    pem_files: PemFiles,
    tmp_path: Path,
    change: dict[str, str | None],
    expected: list[str],
) -> None:
    paths = {
        "ca": pem_files.ca,
        "cert": pem_files.cert,
        "key": pem_files.key,
        "encrypted_key": pem_files.encrypted_key,
        "rogue_key": pem_files.rogue_key,
        "missing": tmp_path / "nope.pem",
        "directory": tmp_path,
    }
    env = sasl_ssl(pem_files)
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value.format(**paths)
    text = problems(env)
    for fragment in expected:
        assert fragment.format(**paths) in text


def test_an_empty_password_file_is_refused(pem_files: PemFiles, tmp_path: Path) -> None:
    empty = tmp_path / "password"
    empty.write_text("\n")
    env = sasl_ssl(pem_files, SCORESTREAM_KAFKA_PASSWORD_FILE=str(empty))
    del env["SCORESTREAM_KAFKA_PASSWORD"]
    assert f"SCORESTREAM_KAFKA_PASSWORD_FILE='{empty}' is empty" in problems(env)


def test_redis_acl_user_and_password_as_variables_over_tls(pem_files: PemFiles) -> None:
    env = {
        "SCORESTREAM_REDIS_URL": "rediss://cache.example.com:6380/0",
        "SCORESTREAM_REDIS_USERNAME": "scorestream",
        "SCORESTREAM_REDIS_PASSWORD": SECRET,
        "SCORESTREAM_REDIS_CA_FILE": str(pem_files.ca),
    }
    settings = Settings.from_env(env)
    assert settings.redis_tls
    assert settings.redis_secret is not None
    assert settings.redis_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)


def test_redis_password_in_the_url_is_decoded_and_masked() -> None:
    settings = Settings.from_env({"SCORESTREAM_REDIS_URL": "rediss://app:p%40ss@cache:6380/0"})
    assert settings.redis_secret is not None
    assert settings.redis_secret.get_secret_value() == "p@ss"
    assert "rediss://app:***@cache:6380/0" in repr(settings)
    assert "p%40ss" not in repr(settings)
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SCORESTREAM_REDIS_URL": f"rediss://app:{SECRET}@cache/0",
             "SCORESTREAM_REDIS_PASSWORD": SECRET},
            "SCORESTREAM_REDIS_URL holds a password and SCORESTREAM_REDIS_PASSWORD(_FILE) is set",
        ),
        (
            {"SCORESTREAM_REDIS_URL": "rediss://app@cache/0", "SCORESTREAM_REDIS_USERNAME": "x",
             "SCORESTREAM_REDIS_PASSWORD": SECRET},
            "give the Redis user in SCORESTREAM_REDIS_URL or SCORESTREAM_REDIS_USERNAME",
        ),
        (
            {"SCORESTREAM_REDIS_USERNAME": "app"},
            "the Redis ACL user needs a password: set SCORESTREAM_REDIS_PASSWORD",
        ),
        (
            {"SCORESTREAM_REDIS_URL": "redis://cache/0", "SCORESTREAM_REDIS_CA_FILE": "{ca}"},
            "SCORESTREAM_REDIS_CA_FILE set, but SCORESTREAM_REDIS_URL is redis:// (no TLS);"
            " use rediss://",
        ),
        (
            {"SCORESTREAM_REDIS_URL": f"https://app:{SECRET}@cache/0"},
            "SCORESTREAM_REDIS_URL='https://app:***@cache/0': String should match pattern",
        ),
    ],
)  # fmt: skip
def test_redis_mistakes_name_the_variable_and_the_fix(
    pem_files: PemFiles, env: dict[str, str], expected: str
) -> None:
    env = {name: value.format(ca=pem_files.ca) for name, value in env.items()}
    assert expected in problems(env)


def test_every_problem_is_reported_at_once(pem_files: PemFiles) -> None:
    """One start tells everything to fix, not one variable per attempt."""
    env = {
        "SCORESTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "SCORESTREAM_REDIS_USERNAME": "app",
    }
    text = problems(env)
    assert "SCORESTREAM_KAFKA_SASL_MECHANISM" in text and "SCORESTREAM_REDIS_PASSWORD" in text


TOKEN = "correct-horse-battery-staple"


def test_the_web_token_is_read_but_never_shown() -> None:
    settings = Settings.from_env({"SCORESTREAM_WEB_TOKEN": TOKEN})
    assert settings.web_token is not None
    assert settings.web_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert TOKEN not in settings.model_dump_json()
    assert Settings.from_env({}).web_token is None


def test_a_short_web_token_fails_with_the_fix_and_without_the_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SCORESTREAM_WEB_TOKEN": "hunter2-short"})
    message = str(caught.value)
    assert "SCORESTREAM_WEB_TOKEN='***'" in message
    assert "16 characters or more" in message
    assert "hunter2" not in message


def test_web_admins_and_sign_in_settings() -> None:
    settings = Settings.from_env(
        {
            "SCORESTREAM_WEB_ADMINS": "boss@x.com, it@x.com,",
            "SCORESTREAM_WEB_SESSION_HOURS": "8",
            "SCORESTREAM_OIDC_ISSUER": "https://id.x.com",
            "SCORESTREAM_OIDC_CLIENT_ID": "ss",
            "SCORESTREAM_OIDC_CLIENT_SECRET": "shh",
        }
    )
    assert settings.web_admins == ("boss@x.com", "it@x.com")
    assert settings.web_session_hours == 8 and "shh" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCORESTREAM_WEB_ADMINS": "boss"}, "SCORESTREAM_WEB_ADMINS"),
        ({"SCORESTREAM_OIDC_ISSUER": "https://id.x.com"}, "needs SCORESTREAM_OIDC_CLIENT_ID"),
        ({"SCORESTREAM_OIDC_CLIENT_ID": "ss"}, "without SCORESTREAM_OIDC_ISSUER"),
        (
            {
                "SCORESTREAM_OIDC_ISSUER": "http://id.x.com",
                "SCORESTREAM_OIDC_CLIENT_ID": "a",
                "SCORESTREAM_OIDC_CLIENT_SECRET": "b",
            },
            "must be https://",
        ),
    ],
)
def test_sign_in_mistakes_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env(env)
    assert "'b'" not in str(caught.value)  # a secret's value is never repeated

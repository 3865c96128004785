from pathlib import Path

import pytest
from pydantic import ValidationError

from champion.config import Settings


def test_defaults_embed_everything_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'champion.db'}"
    assert settings.resolved_artifacts_dir == tmp_path / "artifacts"


def test_several_replicas_refuse_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="shared database"):
        Settings(home=tmp_path, replicas=2)


def test_several_replicas_accept_postgres(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, replicas=2, database_url="postgresql+psycopg://db/champion", secret_key="s" * 32)
    assert settings.replicas == 2


def test_several_replicas_need_one_signing_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CHAMPION_SECRET_KEY, the same on each"):
        Settings(home=tmp_path, replicas=2, database_url="postgresql+psycopg://db/champion")


@pytest.mark.parametrize("url", ["bucket/prefix", "s3://", "file:///tmp/x", "https://bucket"])
def test_artifacts_url_must_name_an_s3_bucket(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValidationError, match="s3://bucket"):
        Settings(home=tmp_path, artifacts_url=url)


def test_artifacts_url_and_folder_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        Settings(home=tmp_path, artifacts_url="s3://models", artifacts_dir=tmp_path / "a")


def test_artifacts_url_keeps_bucket_and_prefix(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, artifacts_url="s3://models/team-a/")
    assert settings.artifacts_url == "s3://models/team-a"
    assert settings.cache_dir == tmp_path / "cache"


def test_dask_scheduler_must_be_an_address(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="tcp://"):
        Settings(home=tmp_path, dask_scheduler="127.0.0.1:8786")


@pytest.mark.parametrize("key", ["nodotinthiskeyatall", "a.b"])
def test_admin_key_must_be_long_and_dotted(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValidationError, match="CHAMPION_ADMIN_API_KEY"):
        Settings(home=tmp_path, admin_api_key=key)


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAMPION_HOME", str(tmp_path))
    monkeypatch.setenv("CHAMPION_MAX_UPLOAD_BYTES", "1234")
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.max_upload_bytes == 1234


def test_a_short_signing_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CHAMPION_SECRET_KEY"):
        Settings(home=tmp_path, secret_key="short")

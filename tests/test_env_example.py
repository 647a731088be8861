"""`.env.example` documents every setting of the three services, with values they accept."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic_settings import BaseSettings

from tests.conftest import SERVICE_CONFIGS

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
COMMENTED = re.compile(r"^# ([A-Z][A-Z0-9_]*)(?==)", re.MULTILINE)


def documented() -> set[str]:
    return set(ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))


def settings_names(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields}


@pytest.mark.parametrize("config", SERVICE_CONFIGS, ids=lambda config: config.__name__)
def test_every_setting_is_documented(config: ModuleType) -> None:
    missing = settings_names(config.Settings) - documented()
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_nothing_is_documented_that_no_service_reads() -> None:
    read = set().union(*(settings_names(config.Settings) for config in SERVICE_CONFIGS))
    assert documented() - read == set()


@pytest.mark.usefixtures("bare_environment")
@pytest.mark.parametrize("config", SERVICE_CONFIGS, ids=lambda config: config.__name__)
def test_the_optional_values_shown_are_accepted_and_are_the_defaults(
    tmp_path: Path, config: ModuleType
) -> None:
    settings: type[BaseSettings] = config.Settings
    text = ENV_EXAMPLE.read_text()
    as_shipped = tmp_path / "shipped.env"
    as_shipped.write_text(text)
    uncommented = tmp_path / "uncommented.env"
    uncommented.write_text(COMMENTED.sub(r"\1", text))
    shipped, changed = settings(_env_file=as_shipped), settings(_env_file=uncommented)
    optional = {name.lower() for name in COMMENTED.findall(text)} & set(settings.model_fields)
    assert optional, "no optional setting of this service is shown"
    for name in optional:
        default = getattr(shipped, name)
        if default:  # an empty default (no config file, no extra entries) shows an example
            assert getattr(changed, name) == default, name.upper()

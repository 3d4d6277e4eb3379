from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import load_settings, parse_settings
from hub.starter import STARTER_CONFIG

GOOD = """
hub:
  database_url: sqlite:///x.db
systems:
  hubspot-prod:
    kind: hubspot
    secrets:
      token: ${HT_TEST_TOKEN}
survivorship:
  default: {rule: priority, systems: [hubspot-prod]}
"""


def test_secret_from_environment_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HT_TEST_TOKEN", "pat-na1-SECRET-VALUE")
    settings = parse_settings(GOOD)
    token = settings.systems["hubspot-prod"].secrets["token"]
    assert token.get_secret_value() == "pat-na1-SECRET-VALUE"
    assert "SECRET-VALUE" not in repr(settings)
    assert "SECRET-VALUE" not in str(settings.model_dump())


def test_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    text = GOOD.replace("${HT_TEST_TOKEN}", "${file:token}")
    settings = parse_settings(text, base=tmp_path)
    assert settings.systems["hubspot-prod"].secrets["token"].get_secret_value() == "from-a-file"


def test_missing_environment_variable_names_line_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HT_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD, "cfg.yaml")
    message = str(caught.value)
    assert "cfg.yaml" in message
    assert "line 8" in message
    assert "systems.hubspot-prod.secrets.token" in message
    assert "HT_TEST_TOKEN is not set" in message


def test_default_value_for_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HT_TEST_TOKEN", raising=False)
    settings = parse_settings(GOOD.replace("${HT_TEST_TOKEN}", "${HT_TEST_TOKEN:-fallback}"))
    assert settings.systems["hubspot-prod"].secrets["token"].get_secret_value() == "fallback"


def test_validation_error_names_file_line_path_and_expectation() -> None:
    text = "hub:\n  batch_size: many\nsystems:\n  crm:\n    kind: csv\n    colour: blue\n"
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "my.yaml")
    problems = caught.value.problems
    assert any("line 2" in p and "hub.batch_size" in p and "integer" in p for p in problems), (
        problems
    )
    assert any(
        "line 6" in p and "systems.crm.colour" in p and "unknown key" in p for p in problems
    ), problems


def test_secret_value_never_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HT_TEST_TOKEN", "pat-na1-SECRET-VALUE")
    text = GOOD.replace("token: ${HT_TEST_TOKEN}", "token: {nested: ${HT_TEST_TOKEN}}")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    assert "SECRET-VALUE" not in str(caught.value)


def test_bad_yaml_reports_position() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("hub:\n  batch_size: [1,\n", "bad.yaml")
    assert "bad.yaml" in str(caught.value)
    assert "line" in str(caught.value)


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="huitong init"):
        load_settings(tmp_path / "nope.yaml")


def test_custom_fields_cannot_shadow_builtins() -> None:
    with pytest.raises(ConfigError, match="shadow built-in"):
        parse_settings("custom_fields:\n  Person:\n    email: text\n")


def test_starter_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings(STARTER_CONFIG)
    assert settings.hub.default_region == "CN"
    assert "crm-export" in settings.systems


def test_rule_lookup_prefers_entity_field_then_field_then_default() -> None:
    settings = parse_settings(
        "survivorship:\n  default: {rule: priority}\n  fields:\n    Person.email: {rule: latest}\n"
        "    title: {rule: most_frequent}\n"
    )
    from hub.model import EntityType

    s = settings.survivorship
    assert s.rule_for(EntityType.PERSON, "email").rule == "latest"
    assert s.rule_for(EntityType.COMPANY, "email").rule == "priority"
    assert s.rule_for(EntityType.COMPANY, "title").rule == "most_frequent"


MATCH = """
match:
  link_threshold: 0.95
  person:
    comparisons:
      - {name: name, fields: [full_name], comparator: person_name, tf_adjust: true}
      - {name: mobile, fields: [mobile], comparator: phone}
      - {name: birth, fields: [birth_date], comparator: date}
    blocking:
      - {name: mobile, "on": ["phone_last8(mobile)"]}
      - {name: name, "on": ["name(full_name)"]}
"""


def test_what_is_compared_is_configuration() -> None:
    from hub.model import EntityType

    settings = parse_settings(MATCH)
    person = settings.match.for_entity(EntityType.PERSON)
    assert [c.name for c in person.comparisons] == ["name", "mobile", "birth"]
    assert [r.name for r in person.blocking] == ["mobile", "name"]
    assert person.link == 0.95
    company = settings.match.for_entity(EntityType.COMPANY)
    assert company.link == 0.95  # the threshold applies to every type
    assert "credit_code" in {c.name for c in company.comparisons}  # the default comparisons


def test_a_bad_comparison_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(MATCH.replace("comparator: date", "comparator: astrology"))
    assert "match" in str(caught.value)
    assert "person.comparisons.2.comparator: Input should be" in str(caught.value)
    with pytest.raises(
        ConfigError, match=r"review threshold 0\.97 is above the link threshold 0\.95"
    ):
        parse_settings(
            MATCH.replace("link_threshold: 0.95", "link_threshold: 0.95\n  review_threshold: 0.97")
        )

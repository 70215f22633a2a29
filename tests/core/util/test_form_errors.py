"""One rendering of voluptuous errors for forms, services and the API."""

from __future__ import annotations

import pytest
import voluptuous as vol

from gatehouse.core.helpers import describe_invalid, form_errors

SCHEMA = vol.Schema(
    {
        vol.Required("host"): str,
        vol.Optional("port", default=1883): vol.All(int, vol.Range(max=65535)),
        vol.Optional("tls"): {vol.Required("ca"): str},
    }
)


def invalid(data: dict[str, object]) -> vol.Invalid:
    with pytest.raises(vol.Invalid) as err:
        SCHEMA(data)
    return err.value


def test_each_field_gets_its_first_problem() -> None:
    err = invalid({"port": 70000, "tls": {}, "bogus": 1})
    assert form_errors(err) == {
        "host": "required",
        "port": "value must be at most 65535",
        "tls": "required",
        "bogus": "extra keys not allowed",
    }


def test_problems_on_fields_the_form_lacks_go_to_base_and_are_not_lost() -> None:
    err = invalid({"host": "h", "tls": {}})
    assert form_errors(err, fields=vol.Schema({vol.Required("host"): str})) == {
        "base": "tls.ca: required"
    }


def test_extra_keys_can_be_explained_in_the_forms_words() -> None:
    err = invalid({"host": "h", "payload_on": "ON"})
    assert form_errors(err, extra_key="not used by sensor") == {
        "payload_on": "not used by sensor"
    }


def test_description_names_every_problem_with_its_path() -> None:
    err = invalid({"port": 70000, "tls": {}})
    text = describe_invalid(err)
    assert "host: required" in text
    assert "port: value must be at most 65535" in text
    assert "tls.ca: required" in text


def test_a_problem_with_the_whole_data_has_no_path() -> None:
    with pytest.raises(vol.Invalid) as err:
        vol.Schema(vol.All(dict, vol.Length(min=1)))({})
    assert form_errors(err.value) == {"base": "length of value must be at least 1"}
    assert describe_invalid(err.value) == "length of value must be at least 1"


def test_an_exclusive_clash_lands_on_a_field_of_the_form() -> None:
    form = vol.Schema(
        {vol.Exclusive("value_template", "value"): str, vol.Exclusive("json_path", "value"): str}
    )
    with pytest.raises(vol.Invalid) as err:
        form({"value_template": "{{ value }}", "json_path": "a"})
    assert form_errors(err.value, fields=form) == {
        "json_path": "value_template and json_path exclude each other"
    }
    # without the form, the group's name (no field) is not passed off as one
    assert set(form_errors(err.value)) == {"base"}

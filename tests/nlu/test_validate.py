"""`rasa data validate` must pass without a warning on our domain and data."""

from scripts import validate_data


def test_rasa_data_validate_has_no_warnings():
    returncode, output, problems = validate_data.validate()
    assert returncode == 0, output[-3000:]
    assert problems == [], "\n".join(problems)


def test_only_responses_sent_by_actions_are_excused():
    output = "\n".join(
        [
            "UserWarning: The utterance 'utter_sent' is not used in any story or rule.",
            "UserWarning: The utterance 'utter_orphan' is not used in any story or rule.",
            "UserWarning: Intent 'greet' has only 3 training examples!",
        ]
    )
    assert validate_data.problems(output, {"utter_sent"}) == output.splitlines()[1:]


def test_names_the_actions_build_are_excused_by_prefix():
    line = "UserWarning: The utterance 'utter_ask_city' is not used in any story or rule."
    assert validate_data.problems(line, {"utter_ask_*"}) == []
    assert validate_data.problems(line, {"utter_start_*"}) == [line]


def test_the_scan_finds_literal_and_built_names_in_actions():
    sent = validate_data.responses_sent_by_actions()
    assert "utter_ask_*" in sent
    assert any(not name.endswith("*") for name in sent)

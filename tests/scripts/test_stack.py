from scripts import stack


def test_defaults_match_the_documented_ports(tmp_path):
    env = stack.environment({}, var_dir=tmp_path)
    assert env["EXCHANGE_PORT"] == "8100"
    assert env["RASA_PORT"] == "5005"
    assert env["ACTIONS_PORT"] == "5055"
    assert env["GATEWAY_PORT"] == "8080"
    assert env["PHONE_PORT"] == "9092"
    assert env["ACTION_SERVER_URL"] == "http://127.0.0.1:5055/webhook"
    assert env["TRACKER_URL"] == f"sqlite:///{tmp_path}/tracker.db"
    assert env["EXCHANGE_DATABASE_URL"] == f"sqlite:///{tmp_path}/exchange.db"


def test_a_port_from_the_environment_moves_its_url(tmp_path):
    env = stack.environment({"RASA_PORT": "6005"}, var_dir=tmp_path)
    assert env["RASA_URL"] == "http://127.0.0.1:6005"


def test_explicit_ports_win_over_the_environment(tmp_path):
    base = {"EXCHANGE_PORT": "1", "EXCHANGE_URL": "http://127.0.0.1:1"}
    env = stack.environment(base, ports={"EXCHANGE_PORT": 4321}, var_dir=tmp_path)
    assert env["EXCHANGE_URL"] == "http://127.0.0.1:4321"


def test_configured_database_urls_are_kept(tmp_path):
    url = "postgresql://postgres@127.0.0.1:5432/test"
    env = stack.environment({"EXCHANGE_DATABASE_URL": url}, var_dir=tmp_path)
    assert env["EXCHANGE_DATABASE_URL"] == url

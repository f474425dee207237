"""scripts/stack.py's production environment: the defaults and what overrides them."""

from __future__ import annotations

from scripts import stack


def test_defaults(tmp_path):
    env = stack.production_environment({}, var_dir=tmp_path)
    assert env["TRACKER_URL"] == env["EXCHANGE_DATABASE_URL"] == stack.PROD_DATABASE_URL
    assert (env["TRACKER_SCHEMA"], env["EXCHANGE_DB_SCHEMA"]) == ("rasa_tracker", "exchange")
    assert env["TRACKER_DIALECT"] == "postgresql"
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["REDIS_DB"]) == ("127.0.0.1", "6379", "1")
    assert env["RASA_BACKENDS"] == "http://127.0.0.1:5006,http://127.0.0.1:5007"
    assert env["ACTIONS_BACKENDS"] == "http://127.0.0.1:5056,http://127.0.0.1:5057"
    # The gateway and Rasa talk to the proxies, on the usual ports.
    assert env["RASA_URL"] == "http://127.0.0.1:5005"
    assert env["ACTION_SERVER_URL"] == "http://127.0.0.1:5055/webhook"


def test_a_developers_sqlite_tracker_dialect_does_not_leak_in(tmp_path):
    env = stack.production_environment({"TRACKER_DIALECT": "sqlite"}, var_dir=tmp_path)
    assert env["TRACKER_DIALECT"] == "postgresql"


def test_replica_counts_and_ports_follow_the_settings(tmp_path):
    base = {"RASA_PORT": "7000", "RASA_REPLICAS": "3", "ACTIONS_REPLICA_PORT": "7100"}
    env = stack.production_environment(base, var_dir=tmp_path)
    assert env["RASA_REPLICA_PORT"] == "7001"
    assert env["RASA_BACKENDS"].split(",") == [f"http://127.0.0.1:{p}" for p in (7001, 7002, 7003)]
    assert env["ACTIONS_BACKENDS"] == "http://127.0.0.1:7100,http://127.0.0.1:7101"


def test_explicit_ports_win(tmp_path):
    base = {"RASA_REPLICA_PORT": "1"}
    env = stack.production_environment(
        base, ports={"RASA_PORT": 4000, "RASA_REPLICA_PORT": 4100}, var_dir=tmp_path
    )
    assert env["RASA_URL"] == "http://127.0.0.1:4000"
    assert env["RASA_BACKENDS"] == "http://127.0.0.1:4100,http://127.0.0.1:4101"


def test_an_empty_redis_password_stays_empty_and_nonsense_counts_give_no_backends(tmp_path):
    env = stack.production_environment(
        {"REDIS_PASSWORD": "", "ACTIONS_REPLICAS": "many"}, var_dir=tmp_path
    )
    assert env["REDIS_PASSWORD"] == ""
    assert env["ACTIONS_BACKENDS"] == ""  # the preflight names the bad setting

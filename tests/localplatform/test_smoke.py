def test_cli_login_and_config(platform, cli):
    alice = cli("alice")
    assert "as alice" in alice.login.stdout, alice.login.stdout

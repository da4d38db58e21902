"""etcdctl's user, role and auth commands against each target (3.4's etcdctl against etcd 3.4, 3.5's
against etcd 3.5 and etcdlite): output and error text as real etcd's (observed)."""

from __future__ import annotations


def _fails(target, *args, message: str, status: int = 1) -> None:
    proc = target.etcdctl(*args, check=False)
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.endswith("Error: " + message + "\n"), proc.stderr


def _setup(target) -> None:
    out = [target.etcdctl(*args).stdout for args in [
        ("user", "add", "root:rootpw"),
        ("user", "add", "alice", "--new-user-password", "apw"),
        ("user", "add", "bob", "--no-password"),
        ("role", "add", "root"),
        ("role", "add", "app"),
        ("role", "grant-permission", "app", "readwrite", "app/", "--prefix"),
        ("role", "grant-permission", "app", "read", "cfg"),
        ("role", "grant-permission", "app", "write", "a", "c"),
        ("user", "grant-role", "alice", "app"),
        ("user", "grant-role", "root", "root"),
    ]]
    assert out == ["User root created\n", "User alice created\n", "User bob created\n",
                   "Role root created\n", "Role app created\n", "Role app updated\n",
                   "Role app updated\n", "Role app updated\n",
                   "Role app is granted to user alice\n", "Role root is granted to user root\n"]


def test_etcdctl_user_and_role_commands_print_like_etcd(target):
    _setup(target)
    assert target.etcdctl("role", "get", "app").stdout == (
        "Role app\nKV Read:\n\t[app/, app0) (prefix app/)\n\tcfg\n"
        "KV Write:\n\t[a, c)\n\t[app/, app0) (prefix app/)\n")
    assert target.etcdctl("role", "list").stdout == "app\nroot\n"
    assert target.etcdctl("user", "list").stdout == "alice\nbob\nroot\n"
    assert target.etcdctl("user", "get", "alice").stdout == "User: alice\nRoles: app\n"
    assert target.etcdctl("user", "get", "root", "--detail").stdout == (
        "User: root\n\nRole root\nKV Read:\nKV Write:\n")
    _fails(target, "user", "add", "root:x", message="etcdserver: user name already exists")
    _fails(target, "role", "grant-permission", "nope", "read", "x",
           message="etcdserver: role name not found")
    _fails(target, "user", "get", "nobody", message="etcdserver: user name not found")


def test_etcdctl_auth_enable_then_user_flags_and_denials(target):
    _setup(target)
    assert target.etcdctl("auth", "enable").stdout == "Authentication Enabled\n"
    _fails(target, "auth", "enable", message="etcdserver: user name is empty")
    _fails(target, "put", "app/x", "1", message="etcdserver: user name is empty")
    assert target.etcdctl("--user", "alice:apw", "put", "app/x", "1").stdout == "OK\n"
    assert target.etcdctl("--user", "alice", "--password", "apw", "get", "app/x").stdout == (
        "app/x\n1\n")
    _fails(target, "--user", "alice:apw", "put", "other", "1",
           message="etcdserver: permission denied")
    _fails(target, "--user", "alice:apw", "get", "cfg", "--prefix",
           message="etcdserver: permission denied")
    _fails(target, "--user", "alice:apw", "user", "list", message="etcdserver: permission denied")
    # a failed login ends etcdctl while it connects: exit status 2
    _fails(target, "--user", "alice:wrong", "get", "app/x", status=2,
           message="etcdserver: authentication failed, invalid user ID or password")
    assert target.etcdctl("--user", "root:rootpw", "user", "list").stdout == "alice\nbob\nroot\n"


def test_etcdctl_auth_status(target):
    _setup(target)
    if target.etcdctl_version == "3.4":
        # etcdctl 3.4 has no "auth status": it prints the auth command's help, exit status 0
        assert target.etcdctl("auth", "status").stdout.startswith(
            "NAME:\n\tauth - Enable or disable authentication\n")
        return
    assert target.etcdctl("auth", "status").stdout == (
        "Authentication Status: false\nAuthRevision: 11\n")
    target.etcdctl("auth", "enable")
    _fails(target, "auth", "status", message="etcdserver: user name is empty")
    assert target.etcdctl("--user", "root:rootpw", "auth", "status").stdout == (
        "Authentication Status: true\nAuthRevision: 11\n")


def test_etcdctl_revoke_passwd_delete_and_auth_disable_as_root(target):
    _setup(target)
    target.etcdctl("auth", "enable")
    root = ("--user", "root:rootpw")
    assert target.etcdctl(*root, "role", "revoke-permission", "app", "app/", "--prefix").stdout == (
        "Permission of range [app/, app0) is revoked from role app\n")
    _fails(target, *root, "role", "revoke-permission", "app", "app/", "--prefix",
           message="etcdserver: permission is not granted to the role")
    assert target.etcdctl(*root, "role", "revoke-permission", "app", "cfg").stdout == (
        "Permission of key cfg is revoked from role app\n")
    assert target.etcdctl(*root, "user", "revoke-role", "alice", "app").stdout == (
        "Role app is revoked from user alice\n")
    assert target.etcdctl(*root, "user", "passwd", "alice", "--interactive=false",
                          input="newpw\n").stdout == "Password updated\n"
    assert target.etcdctl("--user", "alice:newpw", "user", "get", "alice").stdout == (
        "User: alice\nRoles:\n")
    assert target.etcdctl(*root, "user", "delete", "bob").stdout == "User bob deleted\n"
    assert target.etcdctl(*root, "role", "delete", "app").stdout == "Role app deleted\n"
    _fails(target, *root, "user", "delete", "root", message="etcdserver: invalid auth management")
    assert target.etcdctl(*root, "auth", "disable").stdout == "Authentication Disabled\n"
    assert target.etcdctl("auth", "disable").stdout == "Authentication Disabled\n"
    assert target.etcdctl("put", "x", "1").stdout == "OK\n"

"""A hostile control server for the CLI tests: listens on a unix socket and
answers every request line with a canned reply. Usage:
  fake_control_server.py SOCKET MODE [UID]
MODE "nested": a reply nested 100,000 levels deep; "plain": a valid status
reply. With UID, the process binds as itself, then setuid(UID) before
listen(): SO_PEERCRED on the client's side then names UID. Prints "ready"
once listening; serves until killed (the test ends it by PID) or 60 s."""
import os
import socket
import sys
import time

path, mode = sys.argv[1], sys.argv[2]
reply = {
    "nested": '{"ok":true,"v":1,"services":' + "[" * 100000 + "]" * 100000 + "}\n",
    "plain": '{"ok":true,"v":1,"services":[]}\n',
}[mode]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o777)
if len(sys.argv) > 3:
    os.setgid(int(sys.argv[3]))
    os.setuid(int(sys.argv[3]))
s.listen(8)
s.settimeout(1.0)
print("ready", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(5.0)
    try:
        data = b""
        while b"\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        c.sendall(reply.encode())
    except OSError:
        pass
    c.close()

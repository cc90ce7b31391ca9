"""Exit 0 when the AMI at HOST PORT accepts USER SECRET and reports FullyBooted (stdlib only)."""

import socket
import sys


def main(host: str, port: str, user: str, secret: str) -> int:
    with socket.create_connection((host, int(port)), timeout=3) as sock:
        sock.settimeout(5)
        sock.sendall(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: system\r\n\r\n".encode())
        data = b""
        while b"Event: FullyBooted" not in data:
            chunk = sock.recv(65536)
            if not chunk or b"Response: Error" in data:
                return 1
            data += chunk
        sock.sendall(b"Action: Logoff\r\n\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))

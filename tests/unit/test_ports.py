"""Ports for the local stand-ins: free, never the same twice, and never from the kernel's
ephemeral range, where an outgoing connection could take one before its server listens."""
import socket
from pathlib import Path

from local.processes import free_port


def test_ports_are_distinct_free_and_below_the_ephemeral_range():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(1024 < port < low for port in ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # raises if anything holds it

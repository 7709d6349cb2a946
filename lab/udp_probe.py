#!/usr/bin/env python3
"""udp_probe.py - tiny UDP sender/receiver for lab/selftest.sh.

The self-test checks the lab with tools that do not come from natpunch; this
is one (Python's standard library only, IPv4 and IPv6).

  udp_probe.py recv --bind ADDR:PORT [--prime ADDR:PORT] [--timeout S]
      Waits for one datagram and prints "from ADDR:PORT". --prime first
      sends one datagram from the bound socket (opens a NAT mapping or a
      firewall flow, as a client would). Exit 0 when something arrived,
      1 on timeout.
  udp_probe.py send --bind ADDR:PORT --to ADDR:PORT [--count N] [--interval S]
                    [--expect-reply] [--timeout S]
      Sends N datagrams (default 5, 0.1 s apart). With --expect-reply,
      waits for an answer and prints "reply from ADDR:PORT" (exit 1 on
      timeout).
  udp_probe.py echo --bind ADDR:PORT [--timeout S] [--once]
      Answers every datagram to its sender until S seconds have passed
      (--once: until it has answered one).

Addresses: 100.64.1.2:5000 or [2001:db8::10]:5000; port 0 picks one.
"""
import argparse
import socket
import sys
import time


def endpoint(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not ADDR:PORT")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


def name(address):
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def open_socket(bind):
    family, address = bind
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind(address)
    return s


def send(s, payload, address):
    # An unreachable neighbour (an isolated LAN) is an answer, not an error.
    try:
        s.sendto(payload, address)
    except OSError:
        pass


def wait_for(s, timeout):
    s.settimeout(max(timeout, 0.01))
    try:
        _, sender = s.recvfrom(2048)
        return sender
    except socket.timeout:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["recv", "send", "echo"])
    parser.add_argument("--bind", type=endpoint, required=True)
    parser.add_argument("--to", type=endpoint)
    parser.add_argument("--prime", type=endpoint)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--expect-reply", action="store_true")
    parser.add_argument("--once", action="store_true")
    o = parser.parse_args()
    s = open_socket(o.bind)
    if o.mode == "recv":
        if o.prime:
            send(s, b"prime", o.prime[1])
        sender = wait_for(s, o.timeout)
        if sender is None:
            print("timeout")
            return 1
        print("from " + name(sender), flush=True)
        return 0
    if o.mode == "send":
        if o.to is None:
            parser.error("send needs --to")
        for i in range(max(o.count, 1)):
            send(s, b"probe %d" % i, o.to[1])
            if o.expect_reply:
                sender = wait_for(s, o.interval)
                if sender is not None:
                    print("reply from " + name(sender), flush=True)
                    return 0
            elif i + 1 < o.count:
                time.sleep(o.interval)
        if o.expect_reply:
            sender = wait_for(s, o.timeout)
            if sender is None:
                print("no reply")
                return 1
            print("reply from " + name(sender), flush=True)
        return 0
    deadline = time.monotonic() + o.timeout
    while time.monotonic() < deadline:
        s.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data, sender = s.recvfrom(2048)
        except socket.timeout:
            break
        send(s, data, sender)
        if o.once:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())

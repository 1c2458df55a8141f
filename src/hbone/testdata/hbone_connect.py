"""Open one HBONE tunnel with Python's ssl + h2 (not Node's HTTP/2) and echo a payload through it.

Used by src/hbone/interop.test.ts to prove the Portcullis HBONE server against a second HTTP/2 implementation.
Usage: hbone_connect.py HOST PORT CERT_CHAIN KEY ROOT_CERT EXPECTED_SAN AUTHORITY PAYLOAD
Prints one JSON line: {"status": int, "body": str, "server_sans": [...]}.
"""
import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def main() -> int:
    host, port, cert, key, root, expected_san, authority, payload = sys.argv[1:9]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(root)
    # HBONE identities are SPIFFE URI SANs, not hostnames; like ztunnel, send no SNI and check the SAN ourselves.
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])

    raw = socket.create_connection((host, int(port)), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname=None)
    sans = [value for kind, value in sock.getpeercert().get("subjectAltName", ()) if kind == "URI"]
    if expected_san not in sans:
        print(json.dumps({"error": f"unexpected server SANs {sans}"}))
        return 1

    # h2 4.1 insists on :scheme and :path for every request, CONNECT included, which RFC 9113 §8.5 forbids for a
    # classic CONNECT; switch off its outbound validation (inbound validation stays on).
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    # Classic RFC 9113 CONNECT: only :method and :authority, as ztunnel sends.
    conn.send_headers(stream_id, [(":method", "CONNECT"), (":authority", authority), ("traceparent", "00-" + "1" * 32 + "-" + "2" * 16 + "-00")])
    sock.sendall(conn.data_to_send())

    status = None
    body = b""
    sent = False
    done = False
    while not done:
        data = sock.recv(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                status = int(dict(event.headers)[":status"])
                if status == 200 and not sent:
                    conn.send_data(stream_id, payload.encode(), end_stream=True)
                    sent = True
                elif status != 200:
                    done = True
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) and event.stream_id == stream_id:
                done = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                done = True
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    conn.close_connection()
    try:
        sock.sendall(conn.data_to_send())
    except OSError:
        pass
    sock.close()
    print(json.dumps({"status": status, "body": body.decode(), "server_sans": sans}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

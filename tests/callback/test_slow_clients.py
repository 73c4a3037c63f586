"""``vodai serve --function vod_callback`` as a real waitress process, with 200 idle and slow clients
connected (real sockets): a valid signed callback is still answered within VOD's 5-second window
(issue 26; about 100 such connections used to lock VOD out)."""

import socket
import time

import pytest
import requests

from _servers import emulator_server
from runtime.procs import SERVE, clean_env, shim_process

from .helpers import AK, AUTH_KEY, SECRET, TOKEN, body, md5_signature

pytestmark = pytest.mark.e2e

TOPIC = "vodai-events"
PUBLIC_URL = "https://cb.example.com/vod/callback"
SLOW_CLIENTS = 200


def test_a_valid_callback_is_answered_within_five_seconds_with_200_slow_clients_connected(tmp_path):
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as emulator:
        env = clean_env({
            "VODAI_CALLBACK_URL": PUBLIC_URL, "VODAI_CALLBACK_AUTH_KEY": AUTH_KEY, "VODAI_EVENTS_TOPIC": TOPIC,
            "VODAI_MNS_ENDPOINT": emulator.url, "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{tmp_path}/idem.sqlite3",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
            "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
        })
        command = SERVE + ["--function", "vod_callback", "--port", "0"]
        with shim_process(command, env, "vodai serve: vod_callback", cwd=tmp_path) as shim:
            host, port = shim.url.split("//", 1)[1].split(":")
            clients = []
            try:
                for n in range(SLOW_CLIENTS):
                    conn = socket.create_connection((host, int(port)), timeout=5)
                    if n % 2:  # half say nothing, half start a request and never finish it
                        conn.sendall(b"POST /vod/callback HTTP/1.1\r\nHost: slow\r\nContent-Length: 100\r\n\r\n{")
                    clients.append(conn)
                ts = str(int(time.time()))
                headers = {"X-VOD-TIMESTAMP": ts, "X-VOD-SIGNATURE": md5_signature(PUBLIC_URL, ts, AUTH_KEY),
                           "Content-Type": "application/json"}
                started = time.monotonic()
                response = requests.post(f"{shim.url}/vod/callback", data=body(), headers=headers, timeout=(10, 10))
                elapsed = time.monotonic() - started
            finally:
                for conn in clients:
                    conn.close()
        assert response.status_code == 200, response.text
        assert elapsed < 5.0, f"answered after {elapsed:.1f} s"
        assert len(emulator.topic_messages(TOPIC)) == 1

"""How a pair gets into a call: the floor's bare registration, or Kota's real admission.

Join time is measured on the family client, from sending ``hello`` to the message that
lets it signal: ``welcome`` on the floor, ``admitted`` on Kota (which includes the staff
client hearing ``knocked`` and sending ``admit``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.load import BenchClient, Fleet, LoadError
from bench.payloads import CHAT_TEXT, Template
from bench.seed import SeededPair

FLOOR_PATH = "/ws"
KOTA_PATH = "/ws"
PROTOCOL_VERSIONS = ["1"]


class FloorJoinFlow:
    """Each client says who it is; the floor files its socket under that id."""

    def chat(self, to: str) -> Template:
        """The floor knows no rooms, so a chat line names its one recipient."""
        return Template({"type": "chat", "to": to, "payload": {"text": CHAT_TEXT}})

    async def join(self, fleet: Fleet, staff: BenchClient, family: BenchClient) -> float:
        await staff.open(FLOOR_PATH)
        staff.pid = staff.label.decode()
        staff.send_json({"type": "hello", "id": staff.pid})
        await staff.expect("welcome")
        await family.open(FLOOR_PATH)
        family.pid = family.label.decode()
        started = time.perf_counter()
        family.send_json({"type": "hello", "id": family.pid})
        await family.expect("welcome")
        return time.perf_counter() - started


class KotaJoinFlow:
    """Staff sign in with their session cookie, the family knocks with its join token and
    the staff client admits it: every check of a real join runs."""

    def __init__(self, pairs: Sequence[SeededPair], cookie_name: str) -> None:
        self.pairs = pairs
        self.cookie_name = cookie_name

    def chat(self, to: str) -> Template:
        """Kota relays chat to everyone else in the call: here, the one peer."""
        return Template({"type": "chat", "text": CHAT_TEXT})

    async def join(self, fleet: Fleet, staff: BenchClient, family: BenchClient) -> float:
        seeded = self.pairs[staff.pair]
        path = f"{KOTA_PATH}?appointment={seeded.appointment_id}"
        await staff.open(path, {"Cookie": f"{self.cookie_name}={seeded.staff_cookie}"})
        staff.send_json({"type": "hello", "version": PROTOCOL_VERSIONS})
        welcome = await staff.expect("welcome")
        if welcome.get("state") != "admitted":
            raise LoadError(f"pair {staff.pair}: staff was not seated: {welcome}")
        staff.pid = str(welcome["participant"])
        await family.open(path)
        started = time.perf_counter()
        family.send_json({"type": "hello", "version": PROTOCOL_VERSIONS,
                          "token": seeded.family_token})
        welcome = await family.expect("welcome")
        family.pid = str(welcome["participant"])
        while True:
            knocked = await staff.expect("knocked")
            if knocked["participant"]["participant"] == family.pid:
                break
        staff.send_json({"type": "admit", "participant": family.pid})
        await family.expect("admitted")
        joined = time.perf_counter() - started
        # The one already in the call offers to the newcomer once told it has joined.
        while (await staff.expect("peer-joined"))["peer"]["participant"] != family.pid:
            pass
        return joined

"""``kota bot``: one timed BotParticipant run against a live server, and its report.

It checks a deployment end to end the way a family or a professional uses it: join,
wait, be admitted, exchange media, and say how many frames arrived from whom. The exit
status is 0 only if the bot was admitted and decoded video from every peer it had.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

# aiortc and PyAV load only when the bot runs: every other ``kota`` command stays quick.
if TYPE_CHECKING:
    from aiortc import RTCIceServer

    from signalling.peers.participant import BotParticipant



def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--link", help="a family's join link (https://host/join#token), or - to "
                                    "read it from stdin and keep the token out of ps")
    who.add_argument("--staff", metavar="USERNAME", help="join as this staff member")
    parser.add_argument("--appointment", type=int, help="with --staff: the appointment id")
    parser.add_argument("--url", help="with --staff: the server (default KOTA_PUBLIC_URL)")
    parser.add_argument("--password-env", metavar="NAME",
                        help="with --staff: read the password from this environment variable "
                             "(default: from stdin)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="how long to stay, waiting included (default 10)")
    parser.add_argument("--admit-all", action="store_true",
                        help="with --staff: admit everyone who knocks")
    parser.add_argument("--ice-server", action="append", default=[], metavar="URL",
                        help="a STUN or TURN server (repeatable); none by default")
    parser.add_argument("--ice-username")
    parser.add_argument("--ice-credential")
    parser.add_argument("--relay-only", action="store_true",
                        help="connect through TURN only (the servers Kota hands out, or "
                             "--ice-server): checks that the relay works")


def main(args: argparse.Namespace, public_url: str, environ: Mapping[str, str]) -> int:
    """Run the bot as ``args`` say; ``environ`` is only read for ``--password-env``."""
    if args.staff and args.appointment is None:
        print("kota bot: --staff needs --appointment", file=sys.stderr)
        return 2
    if args.link == "-":
        args.link = sys.stdin.readline().strip()
    password = None
    if args.staff:
        password = environ.get(args.password_env) if args.password_env else _read_password()
        if not password:
            print("kota bot: no password given", file=sys.stderr)
            return 2
    from aiortc import RTCIceServer

    ice = [RTCIceServer(urls=url, username=args.ice_username, credential=args.ice_credential)
           for url in args.ice_server]
    # aioice logs every candidate pair at INFO; the report says what matters.
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(run(args, args.url or public_url, password, ice))
    except (OSError, PermissionError, ValueError) as exc:
        print(f"kota bot: {exc}", file=sys.stderr)
        return 1


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\n")


async def run(args: argparse.Namespace, base_url: str, password: str | None,
              ice_servers: list[RTCIceServer], out: TextIO | None = None) -> int:
    from signalling.peers.participant import FINAL_STATES, BotParticipant
    from signalling.peers.synthetic_media import TINTS

    out = out or sys.stdout
    if args.staff:
        assert password is not None
        bot = await BotParticipant.staff(base_url, args.staff, password, args.appointment,
                                         ice_servers=ice_servers, tint=TINTS[0],
                                         relay_only=args.relay_only)
    else:
        bot = BotParticipant.family(args.link, name="family", ice_servers=ice_servers,
                                    tint=TINTS[1], tone_hz=660, relay_only=args.relay_only)
    loop = asyncio.get_running_loop()
    started = loop.time()
    asked: set[str] = set()
    try:
        await bot.join(timeout=args.seconds)
        while (remaining := started + args.seconds - loop.time()) > 0:
            if args.admit_all:
                for participant in set(bot.waiting) - asked:
                    asked.add(participant)
                    await bot.admit(participant)
            try:
                await bot.wait_for(lambda: bot.state in FINAL_STATES
                                   or (args.admit_all and bool(set(bot.waiting) - asked)),
                                   remaining, "the end of the run")
            except TimeoutError:
                break
            if bot.state in FINAL_STATES:
                break
        print(report(bot, started), file=out, flush=True)
        return 0 if succeeded(bot) else 1
    finally:
        if bot.state == "admitted":
            await bot.leave()
        await bot.close()


def succeeded(bot: BotParticipant) -> bool:
    """Admitted at some point, and video decoded from every peer it connected to."""
    admitted = any(state == "admitted" for _, state in bot.transitions)
    return admitted and all(any(m.video_frames for m in history)
                            for history in bot.received.values())


def report(bot: BotParticipant, started: float) -> str:
    role = "staff" if bot.is_staff else "family"
    lines = [f"kota bot: {role} participant {bot.participant_id} at {bot.base_url}", "states:"]
    lines += [f"  {at - started:7.2f} s  {state}" for at, state in bot.transitions]
    if bot.errors:
        lines.append(f"errors: {', '.join(bot.errors)}")
    if bot.close_code is not None:
        lines.append(f"socket closed with {bot.close_code}")
    lines.append("peers:" if bot.received else "peers: none")
    for peer_id, history in bot.received.items():
        peer = bot.peers.get(peer_id)
        who = f"{peer.display_name} ({peer.role})" if peer else "(gone)"
        lines.append(f"  {peer_id} {who}")
        for number, media in enumerate(history, 1):
            size = "x".join(map(str, media.frame_size)) if media.frame_size else "-"
            first = (f"first frame after {media.first_video_s:.3f} s"
                     if media.first_video_s is not None else "no video")
            lines.append(
                f"    connection {number}: {media.video_frames} video frames ({size}), "
                f"{media.audio_frames} audio frames, {first}; "
                f"states {' > '.join(media.states) or 'new'}")
    lines.append(f"result: {'ok' if succeeded(bot) else 'FAILED'}")
    return "\n".join(lines)

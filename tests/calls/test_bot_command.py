"""``kota bot`` against a live server: the command a person runs to check a deployment.

The command runs in a thread (it starts its own event loop), in this process so that
``loopback_only`` applies to it too; the other side is a bot in the test's loop.
"""

from __future__ import annotations

import asyncio
import io

import pytest

from server import cli
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_state
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """``kota`` replaces the root log handlers, which would take pytest's capture away."""
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)


async def test_family_bot_command_reports_admission_and_frames(
    staff_client: SignIn, bots: Bots, capsys: pytest.CaptureFixture[str]
) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment)
    await worker.join()
    link = await family_link(sanna, appointment)

    command = asyncio.create_task(
        asyncio.to_thread(cli.main, ["bot", "--link", link, "--seconds", "2.5"]))
    family_id = await wait_knock(worker)
    await worker.admit(family_id)
    await wait_frames(worker, family_id, 10)  # the command's media reaches us
    assert await command == 0

    out = capsys.readouterr().out
    assert f"family participant {family_id}" in out
    assert "waiting" in out and "admitted" in out
    assert f"{worker.participant_id} Sanna Aikio" in out
    assert "video frames (320x240)" in out and "result: ok" in out
    assert link.split("#")[1] not in out  # the token is never printed


async def test_staff_bot_command_signs_in_and_admits_everyone(
    staff_client: SignIn, bots: Bots, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    family = bots.family(await family_link(sanna, appointment))
    monkeypatch.setenv("BOT_TEST_PASSWORD", PASSWORD)

    command = asyncio.create_task(asyncio.to_thread(cli.main, [
        "bot", "--staff", "sanna", "--appointment", str(appointment["id"]),
        "--url", bots.base, "--password-env", "BOT_TEST_PASSWORD", "--admit-all",
        "--seconds", "3"]))
    await family.join()
    await wait_state(family, "admitted", timeout=15)  # the command admitted us
    peer = next(iter(family.peers))
    await wait_frames(family, peer, 10)
    assert await command == 0
    out = capsys.readouterr().out
    assert f"staff participant {peer}" in out and "result: ok" in out


async def test_bot_command_reads_the_link_from_stdin_and_fails_when_never_admitted(
    staff_client: SignIn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sanna = await staff_client("sanna")
    link = await family_link(sanna, await book(sanna))
    monkeypatch.setattr("sys.stdin", io.StringIO(link + "\n"))
    assert await asyncio.to_thread(cli.main, ["bot", "--link", "-", "--seconds", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "waiting" in out and "result: FAILED" in out


def test_staff_bot_command_needs_an_appointment(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bot", "--staff", "sanna"]) == 2
    assert "--appointment" in capsys.readouterr().err


def test_bot_command_refuses_a_link_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bot", "--link", "https://kota.example.fi/join"]) == 1
    assert "a join link looks like" in capsys.readouterr().err

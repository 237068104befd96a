"""What the tests wait for on a BotParticipant: a state, frames, a message, a knock.

Each is a condition for ``BotParticipant.wait_for``, re-checked on every change the bot
sees, so a test waits on what happens, never on time.
"""

from __future__ import annotations

from typing import TypeVar

from signalling import messages as wire
from signalling.peers.participant import DEFAULT_TIMEOUT, FINAL_STATES, BotParticipant, BotState
from signalling.peers.peer_link import ReceivedMedia

M = TypeVar("M", bound=wire.ServerMessage)


async def wait_state(bot: BotParticipant, state: str,
                     timeout: float = DEFAULT_TIMEOUT) -> None:  # noqa: ASYNC109
    """Until the bot is in ``state``; fails at once if it ends in another."""
    wanted = BotState(state)

    def reached() -> bool:
        if bot.state is not wanted and bot.state in FINAL_STATES:
            raise AssertionError(f"{bot.name} ended {bot.state} waiting for {wanted}")
        return bot.state is wanted

    await bot.wait_for(reached, timeout, f"state {wanted}")


async def wait_frames(bot: BotParticipant, peer_id: str, n: int = 1,
                      timeout: float = DEFAULT_TIMEOUT, *,  # noqa: ASYNC109
                      audio: int = 0) -> ReceivedMedia:
    """Until a live connection from ``peer_id`` decoded ``n`` video frames (and
    ``audio`` audio frames); a closed one does not count, however much it received."""

    def enough() -> bool:
        link = bot.links.get(peer_id)
        return (link is not None and link.media.video_frames >= n
                and link.media.audio_frames >= audio)

    await bot.wait_for(enough, timeout, f"{n} frames from {peer_id}")
    return bot.links[peer_id].media


async def wait_message(bot: BotParticipant, kind: type[M],
                       timeout: float = DEFAULT_TIMEOUT) -> M:  # noqa: ASYNC109
    """The first message of type ``kind`` received so far (or next)."""
    await bot.wait_for(lambda: any(isinstance(m, kind) for m in bot.messages), timeout,
                       f"a {kind.__name__} message")
    return next(m for m in bot.messages if isinstance(m, kind))


async def wait_knock(bot: BotParticipant, participant: str | None = None,
                     timeout: float = DEFAULT_TIMEOUT) -> str:  # noqa: ASYNC109
    """Staff: until someone (or ``participant``) is waiting; returns their id."""
    def found() -> bool:
        return participant in bot.waiting if participant else bool(bot.waiting)

    await bot.wait_for(found, timeout, f"{participant or 'someone'} waiting")
    return participant or next(iter(bot.waiting))

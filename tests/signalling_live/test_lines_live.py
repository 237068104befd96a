"""Contact lines over the real socket: join, places, take next, chat, end."""

from __future__ import annotations

from server.settings import Settings
from tests.conftest import Accounts, wait_until
from tests.signalling_live.line_live import MONDAY_NOON, MovableClock, lines_server, usage


async def test_people_are_taken_first_come_first_served_across_two_professionals(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        sanna = await lines.staff("sanna", duty=[line["id"]])
        pekka = await lines.staff("pekka", duty=[line["id"]])
        people = []
        for place in (1, 2, 3):
            person, welcome = await lines.person(nickname=f"Kettu{place}")
            assert welcome["line"] == {"name": "Neuvonta", "kind": "public", "modes": "both"}
            assert len(welcome["resume"]) >= 40
            await person.until("queue", position=place)
            people.append(person)
        first, second, third = people

        await sanna.send("take_next")
        session = await sanna.until("session")
        assert (session["who"], session["mode"]) == ("Kettu1", "chat")
        taken = await first.until("taken")
        assert (taken["session"], taken["staff_name"]) == (session["session"], "Sanna")
        await pekka.send("take_next")
        assert (await pekka.until("session"))["who"] == "Kettu2"
        await second.until("taken", staff_name="Pekka")
        await third.until("queue", position=1)

        await first.send("chat", text="Hei, tarvitsen apua")
        await sanna.until("chat", **{"from": "family"}, text="Hei, tarvitsen apua",
                          session=session["session"])
        await first.until("chat", **{"from": "you"}, text="Hei, tarvitsen apua")
        await sanna.send("chat", session=session["session"], text="Kerro lisää")
        await first.until("chat", **{"from": "staff"}, text="Kerro lisää")

        await sanna.send("end", session=session["session"])
        await sanna.until("ended", session=session["session"], reason="you")
        await first.until("ended", reason="staff")
        assert await first.closed() == 1000
        await sanna.send("take_next")
        assert (await sanna.until("session"))["who"] == "Kettu3"
        await third.until("taken")
        await sanna.send("take_next")
        await sanna.until("error", code="busy")

        async def done() -> bool:
            return [a for a, _ in await usage(settings)].count("line.ended") == 1
        await wait_until(done, what="line.ended row")
        rows = await usage(settings)
        assert [a for a, _ in rows if a == "line.joined"] == ["line.joined"] * 3
        for _, detail in rows:
            assert "enrolment" not in detail


async def test_a_double_take_next_gives_nobody_and_duty_is_only_for_own_lines(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        other = await lines.make_line(slug="muut", name="Muut",
                                      staff_ids=[accounts.specialist.id])
        sanna = await lines.staff("sanna")
        await sanna.send("duty", lines=[line["id"], other["id"]])
        await sanna.until("error", code="not_your_line")
        await sanna.send("duty", lines=[line["id"]])
        board = await sanna.until("board", duty=[line["id"]])
        assert [entry["id"] for entry in board["lines"]] == [line["id"]]
        person, _ = await lines.person()
        await person.until("queue", position=1, on_duty=1)
        await sanna.send("take_next")
        await sanna.send("take_next")
        await sanna.until("session")
        await sanna.until("error", code="busy")
        pekka = await lines.staff("pekka", duty=[line["id"], other["id"]])
        await pekka.send("take_next")
        await pekka.send("take_next")
        await pekka.expect("nobody")
        await pekka.until("nobody")
        await person.until("taken")


async def test_reconnect_within_a_minute_keeps_the_place_and_after_it_is_gone(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        first, first_welcome = await lines.person()
        second, second_welcome = await lines.person()
        await second.until("queue", position=2)
        await first.close()
        await second.close()
        lines.clock.advance(seconds=50)
        back, welcome = await lines.socket(), None
        await back.send("hello", version="1", resume=second_welcome["resume"])
        welcome = await back.expect("welcome")
        assert welcome["resume"] == second_welcome["resume"]
        await back.until("queue", position=2)  # the first one's place is still kept
        lines.clock.advance(seconds=15)
        await back.until("queue", position=1)  # ... until its minute is over
        late = await lines.socket()
        await late.send("hello", version="1", resume=first_welcome["resume"])
        await late.expect("error", code="resume_failed")
        sanna = await lines.staff("sanna", duty=[line["id"]])
        await sanna.send("take_next")
        await back.until("taken")

        async def gone() -> bool:
            return ("line.left", {"line": line["id"], "reason": "gone", "waited_s": 65}) in \
                await usage(settings)
        await wait_until(gone, what="line.left gone")


async def test_a_person_in_a_session_has_a_minute_to_come_back(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        sanna = await lines.staff("sanna", duty=[line["id"]])
        person, welcome = await lines.person()
        await sanna.send("take_next")
        session = (await sanna.until("session"))["session"]
        await person.until("taken")
        await person.close()
        # The professional hears that the person is away, then back.
        away = await sanna.until("presence", session=session)
        assert away == {"type": "presence", "session": session, "away": True}
        lines.clock.advance(seconds=30)
        back = await lines.socket()
        await back.send("hello", version="1", resume=welcome["resume"])
        await back.expect("welcome")
        await back.until("taken", session=session)
        assert await sanna.until("presence", session=session) == {
            "type": "presence", "session": session}
        await back.send("chat", text="taas täällä")
        await sanna.until("chat", text="taas täällä")
        await back.close()
        lines.clock.advance(seconds=61)
        await sanna.until("ended", session=session, reason="gone")


async def test_hand_over_to_a_line_and_to_a_colleague_keeps_the_front(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        other = await lines.make_line(slug="muut", name="Muut",
                                      staff_ids=[accounts.worker.id, accounts.specialist.id])
        sanna = await lines.staff("sanna", duty=[line["id"]])
        pekka = await lines.staff("pekka", duty=[other["id"]])
        early, _ = await lines.person()
        waiting_there, _ = await lines.person(slug="muut")
        await waiting_there.until("queue", position=1)
        await sanna.send("take_next")
        session = (await sanna.until("session"))["session"]
        await early.until("taken")
        await sanna.send("hand_over", session=session, line=other["id"])
        await sanna.until("ended", session=session, reason="you")
        handed = await early.until("handed_over")
        assert handed["line"]["name"] == "Muut"
        await early.until("queue", position=1)
        await waiting_there.until("queue", position=2)
        await pekka.send("take_next")
        second = (await pekka.until("session"))["session"]
        await early.until("taken", staff_name="Pekka")
        # to a colleague: reserved for Sanna, who is not on duty for that line yet
        await pekka.send("hand_over", session=second, staff=accounts.worker.id)
        await early.until("handed_over")
        await early.until("queue", position=1)
        await pekka.until("ended", session=second)
        await pekka.send("take_next")
        await waiting_there.until("taken", staff_name="Pekka")
        await sanna.send("duty", lines=[line["id"], other["id"]])
        await sanna.send("take_next")
        await early.until("taken", staff_name="Sanna")
        await pekka.send("hand_over", session="x" * 22, line=line["id"])
        await pekka.until("error", code="unknown_session")


async def test_outside_hours_full_and_closing_plus_grace(
        settings: Settings, accounts: Accounts) -> None:
    clock = MovableClock(MONDAY_NOON.replace(hour=19, minute=55))
    async with lines_server(settings, accounts, clock) as lines:
        line = await lines.make_line(queue_cap=2, grace_minutes=10)
        sanna = await lines.staff("sanna", duty=[line["id"]])
        first, _ = await lines.person()
        second, _ = await lines.person()
        third = await lines.socket()
        await third.send("hello", version="1", line="neuvonta", mode="chat")
        await third.expect("full")
        assert await third.closed() == 1000
        clock.advance(minutes=6)  # 20:01: closed, but within the grace
        late = await lines.socket()
        await late.send("hello", version="1", line="neuvonta", mode="video")
        closed = await late.expect("closed")
        assert closed["opens_at"] == "2027-01-05T06:00:00Z"  # 08:00 in Helsinki
        await sanna.send("take_next")
        await first.until("taken")
        clock.advance(minutes=10)  # 20:11: past closing + grace
        await second.until("line_closed")
        assert await second.closed() == 1000
        pekka = await lines.staff("pekka", duty=[line["id"]])
        await pekka.send("take_next")
        await pekka.until("error", code="line_closed")

        async def told() -> bool:
            return ("line.left", {"line": line["id"], "reason": "closed", "waited_s": 960}) \
                in await usage(settings)
        await wait_until(told, what="line.left closed")


async def test_a_professional_reloading_the_page_keeps_the_session(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        sanna = await lines.staff("sanna", duty=[line["id"]])
        person, _ = await lines.person(nickname="Kettu")
        await sanna.send("take_next")
        session = (await sanna.until("session"))["session"]
        await person.until("taken")
        await sanna.close()
        again = await lines.socket("sanna")
        await again.send("hello", version="1", staff=True)
        await again.expect("welcome")
        resumed = await again.until("session")
        assert (resumed["session"], resumed["who"]) == (session, "Kettu")
        await person.send("chat", text="oletko siellä")
        await again.until("chat", text="oletko siellä", session=session)
        await again.close()
        lines.clock.advance(seconds=61)
        await person.until("ended", reason="staff")

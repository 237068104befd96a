"""Contact lines over the real socket: join, places, take next, chat, end."""

from __future__ import annotations

from server.settings import Settings
from tests.conftest import Accounts
from tests.signalling_live.line_live import lines_server, usage


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

        async def logged() -> list[str]:
            return [a for a, _ in await usage(settings)]

        from tests.conftest import wait_until

        async def done() -> bool:
            return (await logged()).count("line.ended") == 1
        await wait_until(done, what="line.ended row")
        rows = await usage(settings)
        assert [a for a, _ in rows if a == "line.joined"] == ["line.joined"] * 3
        for _, detail in rows:
            assert "enrolment" not in detail

"""Kota's real-time side: the call protocol, the pure logic of one appointment's call, and
the code that runs it on live sockets.

Rooms, the waiting room, seats, dispatch and the rate limiter perform no I/O and read no
clock: they take ``now`` and return effects. ``room_registry`` performs those effects and
``connection`` is the only code that touches a WebSocket. This package never imports
``server``; the server supplies identities and storage through the contract in ``ports``.
"""

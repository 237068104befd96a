"""Kota's real-time side: the call protocol and the pure logic of one appointment's call.

Nothing here performs I/O or reads the clock: rooms take ``now`` and return effects, and
the connection layer performs them. This package never imports ``server``.
"""

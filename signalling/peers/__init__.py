"""Headless WebRTC peers built on aiortc: the test/benchmark participant and its media."""

"""Kota's HTTP service: accounts, appointments, join links and the usage log."""

"""CallSocketQuota: sockets are counted from before the upgrade until they end."""

from __future__ import annotations

import pytest

from server.call_socket_quota import CallSocketQuota


def test_the_quota_refuses_beyond_its_limit_until_one_is_given_back() -> None:
    quota = CallSocketQuota(2)
    assert [quota.take(), quota.take(), quota.take()] == [True, True, False]
    assert len(quota) == 2
    quota.give_back()
    assert quota.take() is True
    assert len(quota) == 2


def test_a_quota_allows_at_least_one_socket() -> None:
    with pytest.raises(ValueError):
        CallSocketQuota(0)

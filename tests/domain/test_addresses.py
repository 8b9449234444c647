from __future__ import annotations

import pytest

from chalicelib.domain.addresses import normalised_address


@pytest.mark.parametrize(
    ("written", "mailbox"),
    [
        ("Ro.Sa+Desk@GMail.com", "rosa@gmail.com"),
        ("r.o.s.a+a+b@googlemail.com", "rosa@gmail.com"),
        ("rosa+x@outlook.com", "rosa@outlook.com"),
        ("rosa+x@hotmail.com", "rosa@hotmail.com"),
        ("rosa+x@live.com", "rosa@live.com"),
        ("ro.sa-x@yahoo.com", "ro.sa@yahoo.com"),
        ("rosa+x@icloud.com", "rosa@icloud.com"),
        ("rosa+x@fastmail.com", "rosa@fastmail.com"),
        ("rosa+x@proton.me", "rosa@proton.me"),
        ("ro.sa+x@outlook.com", "ro.sa@outlook.com"),
        ("  Ro.Sa+x@Example.ORG ", "ro.sa+x@example.org"),
        ("rosa-x@gmail.com", "rosa-x@gmail.com"),
        ("rosa+x@yahoo.com", "rosa+x@yahoo.com"),
    ],
)
def test_each_provider_loses_only_what_it_ignores(written: str, mailbox: str) -> None:
    assert normalised_address(written) == mailbox


def test_a_local_part_that_is_only_a_tag_or_dots_is_kept_rather_than_emptied() -> None:
    assert normalised_address("+x@gmail.com") == "+x@gmail.com"
    assert normalised_address("...@gmail.com") == "...@gmail.com"

"""Whatever string arrives as a token, Tokens answers with a TokenError or claims."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployd.errors import TokenError
from deployd.tokens import Action, Tokens


@pytest.fixture(scope="module")
def minted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tokens, str]:
    tokens = Tokens(tmp_path_factory.mktemp("data"))
    token, _ = tokens.mint(["web"], Action.PULL_AND_RECREATE, True, None)

    return tokens, token


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    """Flip, drop, insert or truncate characters of ``token``."""
    text = token
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "drop", "insert", "truncate"]))
        char = draw(st.characters(codec="utf-8") | st.sampled_from("-_.=A/+ \n"))
        if kind == "flip":
            text = text[:where] + char + text[where + 1 :]
        elif kind == "drop":
            text = text[:where] + text[where + 1 :]
        elif kind == "insert":
            text = text[:where] + char + text[where:]
        else:
            text = text[:where]

    return text


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_mutated_token_never_verifies_and_raises_only_token_errors(
    minted: tuple[Tokens, str], data: st.DataObject
) -> None:
    tokens, token = minted
    mutated = data.draw(mutations(token))
    if mutated.strip() == token:
        return

    with pytest.raises(TokenError):
        tokens.verify(mutated)
    with pytest.raises(TokenError):
        tokens.inspect(mutated)


@settings(max_examples=300, deadline=None)
@given(text=st.text() | st.from_regex(r"v4\.public\.[A-Za-z0-9_\-]{0,200}"))
def test_random_text_raises_only_token_errors(
    minted: tuple[Tokens, str], text: str
) -> None:
    tokens, _ = minted

    with pytest.raises(TokenError):
        tokens.verify(text)


def test_the_unmutated_token_still_verifies(minted: tuple[Tokens, str]) -> None:
    tokens, token = minted

    assert tokens.verify(token).containers == ("web",), "the control must pass"


def test_module_fixture_data_dir_holds_the_key(minted: tuple[Tokens, str]) -> None:
    tokens, _ = minted

    assert tokens.public_key_fingerprint().startswith("k4.pid."), "PASERK id expected"
